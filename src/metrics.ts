// Metrics of a role in the Prometheus text format (version 0.0.4), served with a health check on --metrics HOST:PORT:
// GET /metrics and GET /healthz (200 "ok", or 503 and why). Counters and histograms are kept as requests are served;
// gauges are read from the role's state at each scrape. Names start with dfs_.

import { createServer, type Server } from 'node:http';
import type { HostPort } from './wire/address';
import type { Reply, Service } from './wire/channel';
import { DfsError } from './wire/errors';

type Labels = Record<string, string>;

/** Request latency buckets, in seconds: from a cached lookup to a long transfer. */
const LATENCY_BUCKETS = [0.001, 0.005, 0.025, 0.1, 0.5, 2.5, 10, 60];

function labelText(labels: Labels): string {
  const pairs = Object.entries(labels).map(([name, value]) => `${name}="${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
  return pairs.length > 0 ? `{${pairs.join(',')}}` : '';
}

interface Family {
  help: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary';
  samples(): Array<[suffix: string, labels: Labels, value: number]>;
}

export class Metrics {
  private readonly families = new Map<string, Family>();
  private check: () => string | undefined = () => 'starting';

  /** What /healthz reports: what is wrong, or undefined when all is well ('starting' until the role sets it). */
  health(check: () => string | undefined): void {
    this.check = check;
  }

  get problem(): string | undefined {
    return this.check();
  }

  counter(name: string, help: string): (labels: Labels, by?: number) => void {
    const values = new Map<string, { labels: Labels; value: number }>();
    this.families.set(name, { help, type: 'counter', samples: () => [...values.values()].map(({ labels, value }) => ['', labels, value]) });
    return (labels, by = 1) => {
      const key = labelText(labels);
      const entry = values.get(key) ?? { labels, value: 0 };
      entry.value += by;
      values.set(key, entry);
    };
  }

  /** A value read at each scrape: one sample per label set `read` returns. */
  gauge(name: string, help: string, read: () => Array<[Labels, number]>): void {
    this.families.set(name, { help, type: 'gauge', samples: () => read().map(([labels, value]) => ['', labels, value]) });
  }

  /** Totals read at each scrape, shown as a summary without quantiles (a rate of _sum over a rate of _count is the mean). */
  summary(name: string, help: string, read: () => { sum: number; count: number }): void {
    this.families.set(name, {
      help,
      type: 'summary',
      samples: () => {
        const { sum, count } = read();
        return [['_sum', {}, sum], ['_count', {}, count]];
      },
    });
  }

  histogram(name: string, help: string, buckets: readonly number[] = LATENCY_BUCKETS): (labels: Labels, value: number) => void {
    const series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();
    this.families.set(name, {
      help,
      type: 'histogram',
      samples: () =>
        [...series.values()].flatMap(({ labels, counts, sum, count }) => [
          ...buckets.map((le, index): [string, Labels, number] => ['_bucket', { ...labels, le: String(le) }, counts[index] ?? 0]),
          ['_bucket', { ...labels, le: '+Inf' }, count] as [string, Labels, number],
          ['_sum', labels, sum] as [string, Labels, number],
          ['_count', labels, count] as [string, Labels, number],
        ]),
    });
    return (labels, value) => {
      const key = labelText(labels);
      const entry = series.get(key) ?? { labels, counts: buckets.map(() => 0), sum: 0, count: 0 };
      buckets.forEach((le, index) => {
        if (value <= le) entry.counts[index] = (entry.counts[index] ?? 0) + 1;
      });
      entry.sum += value;
      entry.count++;
      series.set(key, entry);
    };
  }

  render(): string {
    const lines: string[] = [];
    for (const [name, family] of this.families) {
      lines.push(`# HELP ${name} ${family.help}`, `# TYPE ${name} ${family.type}`);
      for (const [suffix, labels, value] of family.samples()) lines.push(`${name}${suffix}${labelText(labels)} ${Number.isFinite(value) ? value : 0}`);
    }
    return `${lines.join('\n')}\n`;
  }

  /**
   * The service with every request counted by message type and outcome (ok, or the error code), timed, and its body
   * bytes counted in and out. Message types are the catalogue's (a peer's unknown type never reaches a handler),
   * so the label sets stay few.
   */
  metered(service: Service): Service {
    const requests = this.counter('dfs_requests_total', 'Requests served, by message type and outcome (ok or the error code).');
    const seconds = this.histogram('dfs_request_duration_seconds', 'Time to answer a request, by message type.');
    const bytesIn = this.counter('dfs_body_bytes_received_total', 'Bytes of request bodies received (blobs uploaded or copied here).');
    const bytesOut = this.counter('dfs_body_bytes_sent_total', 'Bytes of response bodies sent (blobs read from here).');
    return {
      role: service.role,
      handler: async (request) => {
        const started = process.hrtime.bigint();
        const type = request.type;
        let outcome = 'ok';
        try {
          const reply: Reply = await service.handler(request);
          if (reply.body) bytesOut({}, reply.body.bytes);
          return reply;
        } catch (error) {
          outcome = DfsError.wrap(error).code;
          throw error;
        } finally {
          requests({ type, outcome });
          seconds({ type }, Number(process.hrtime.bigint() - started) / 1e9);
          if (request.bodyBytes > 0) bytesIn({}, request.bodyBytes);
        }
      },
    };
  }
}

export interface MetricsServer {
  address: HostPort;
  close(): Promise<void>;
}

/** Serves /metrics and /healthz (metrics.problem). */
export function serveMetrics(listen: HostPort, metrics: Metrics): Promise<MetricsServer> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '').split('?')[0];
    if (request.method !== 'GET') {
      response.writeHead(405, { allow: 'GET' }).end();
    } else if (path === '/metrics') {
      response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(metrics.render());
    } else if (path === '/healthz') {
      const problem = metrics.problem;
      response.writeHead(problem === undefined ? 200 : 503, { 'content-type': 'text/plain; charset=utf-8' }).end(problem === undefined ? 'ok\n' : `${problem}\n`);
    } else {
      response.writeHead(404).end();
    }
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  server.maxConnections = 64;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      const bound = server.address();
      resolve({
        address: { host: listen.host, port: typeof bound === 'object' && bound ? bound.port : listen.port },
        close: () => new Promise<void>((done) => server.close(() => done())),
      });
    });
  });
}
