/**
 * GET /api/instances: every instance sharing this ledger (the fleet), from their heartbeats, so any
 * instance behind a load balancer shows the whole fleet.
 */
import type { FastifyInstance } from 'fastify';
import type { ServiceApi } from './types.js';

const instanceSchema = {
  type: 'object',
  required: ['id', 'host', 'pid', 'startedAt', 'lastHeartbeatAt', 'filesInFlight', 'status', 'self'],
  properties: {
    id: { type: 'string', description: 'host:pid:random; the owner of its leases and scans' },
    host: { type: 'string' },
    pid: { type: 'integer' },
    startedAt: { type: 'string', format: 'date-time' },
    lastHeartbeatAt: { type: 'string', format: 'date-time' },
    filesInFlight: { type: 'integer', description: 'files it was converting at its last heartbeat' },
    status: {
      type: 'string',
      enum: ['running', 'silent', 'stopped'],
      description: 'silent: no heartbeat for three intervals (killed, hung or cut off); its leases expire',
    },
    stoppedAt: { type: ['string', 'null'], format: 'date-time' },
    self: { type: 'boolean', description: 'the instance that answered' },
  },
} as const;

export async function instanceRoutes(app: FastifyInstance, opts: { service: ServiceApi }) {
  app.get(
    '/api/instances',
    {
      schema: {
        tags: ['instances'],
        summary: 'Instances sharing this ledger (heartbeats of the last 24 hours), oldest start first',
        response: {
          200: {
            type: 'object',
            required: ['instances'],
            properties: { instances: { type: 'array', items: instanceSchema } },
          },
        },
      },
    },
    async () => ({ instances: await opts.service.listInstances() }),
  );
}
