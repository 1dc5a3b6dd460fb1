// What every server role does alike around its listener: it takes its ports before anything else, and logs the
// listener's events the same way.

import type { Log, LogThrottle } from './log';
import { Metrics, serveMetrics, type MetricsServer } from './metrics';
import { bindTls, type BoundPort, type TlsServeOptions } from './trust/tls';
import type { HostPort } from './wire/address';

export interface RolePorts {
  tls: BoundPort;
  /** The role's metrics, served on `metricsServer` when --metrics asked for it. */
  metrics: Metrics;
  metricsServer: MetricsServer | undefined;
}

/**
 * Takes the role's TLS port and, if asked, its metrics port, then builds the role on them with `serve`. A port in use
 * fails the start before anything is written to disk or a cluster is joined; if `serve` fails, both ports close.
 */
export async function onRolePorts<T>(listen: HostPort, metricsAt: HostPort | undefined, serve: (ports: RolePorts) => Promise<T>): Promise<T> {
  const tls = await bindTls(listen);
  const metrics = new Metrics();
  let metricsServer: MetricsServer | undefined;
  try {
    if (metricsAt) metricsServer = await serveMetrics(metricsAt, metrics);
    return await serve({ tls, metrics, metricsServer });
  } catch (error) {
    await tls.close();
    await metricsServer?.close();
    throw error;
  }
}

/** The listener's events as a role logs them: a handler's bug and the listener's own trouble whole; refused and
 * displaced connections, which a stranger can repeat at will, through the throttle. */
export function listenerLogging(log: Log, throttle: LogThrottle): Pick<TlsServeOptions, 'onBug' | 'onServerError' | 'onAdmission' | 'onCertificateRefused'> {
  return {
    onBug: (error) => log.error(`handler bug: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`),
    onServerError: (error) => log.error(`listener: ${error.message}`),
    onAdmission: (decision) => throttle.warn(`connections ${decision.kind}`, `connection from ${decision.source} ${decision.kind}: ${decision.why}`),
    onCertificateRefused: (remote) => throttle.warn('certificates refused', `connection from ${remote} refused: its certificate is not signed by this cluster's CA`),
  };
}
