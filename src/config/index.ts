export {
  EMBEDDED_SOURCE_BUCKET,
  EMBEDDED_TARGET_BUCKET,
  type Env,
  loadConfig,
  redactedConfig,
} from './load.js';
export type { Config, S3Settings, Schedule } from './types.js';
