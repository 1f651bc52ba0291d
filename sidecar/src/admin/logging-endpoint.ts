// POST /logging?level=debug changes the diagnostic log level at run time; GET /logging shows it (Envoy /logging).

import { sendText } from './admin-response';
import type { AdminEndpoint } from './admin-server';
import { LOG_LEVELS, type Logger, type LogLevel } from '../observability/logger';

/**
 * The level is set on the root pino logger; component children created without their own level follow it
 * (verified with pino 10, specs/observability.md §4.2).
 */
export function loggingEndpoints(logger: Logger): AdminEndpoint[] {
  const show = (): string => `active level: ${logger.level}\nlevels: ${LOG_LEVELS.join(' ')}\n`;
  return [
    {
      path: '/logging',
      method: 'POST',
      help: 'set the diagnostic log level (?level=trace|debug|info|warn|error|fatal|silent)',
      handle(_req, res, url) {
        const level = url.searchParams.get('level');
        if (level === null) {
          sendText(res, 200, show());
          return;
        }
        if (!LOG_LEVELS.includes(level as LogLevel)) {
          sendText(res, 400, `unknown level "${level}"; ${show()}`);
          return;
        }
        logger.level = level;
        sendText(res, 200, show());
      },
    },
  ];
}
