// GET /stats: the same metrics as /stats/prometheus as sorted `name{labels}: value` lines (Envoy's admin /stats).

import { sendText } from './admin-response';
import type { AdminEndpoint } from './admin-server';
import { collectMetrics, type MetricsSources } from './metrics-collector';

/** `?filter=REGEX` keeps matching lines, as Envoy's `/stats?filter=`. */
export function statsEndpoint(sources: MetricsSources): AdminEndpoint {
  return {
    path: '/stats',
    method: 'GET',
    help: 'metrics as plain text (?filter=REGEX)',
    handle(_req, res, url) {
      let text = collectMetrics(sources).toPlain();
      const filter = url.searchParams.get('filter');
      if (filter !== null) {
        let re: RegExp;
        try {
          re = new RegExp(filter);
        } catch {
          sendText(res, 400, `filter is not a valid regular expression: ${filter}\n`);
          return;
        }
        text = `${text.split('\n').filter((line) => line !== '' && re.test(line)).join('\n')}\n`;
      }
      sendText(res, 200, text);
    },
  };
}
