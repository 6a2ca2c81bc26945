/** node-postgres hangs the whole client (config, buffers) on its errors: log only what says why. */
export function briefError(err: unknown): { type: string; message: string; code?: string } {
  const e = err as { name?: string; message?: string; code?: string };
  return { type: e.name ?? 'Error', message: e.message ?? String(err), code: e.code };
}
