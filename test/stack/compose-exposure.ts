/**
 * What a resolved compose file exposes, and what of it is unsafe: the checker of
 * compose-safety.test.ts, kept apart so the same rules judge the shipped file and the modified
 * copies that show they can fail.
 *
 * Rules (issue 30, item 10): only the API may be published beyond this host; a published codec
 * server must authenticate its callers (it decrypts every payload); Temporal's frontend may be
 * published only with mutual TLS (whoever reaches it can start, signal or terminate deletions
 * past the API's roles and audit trail), on loopback too, since any process on the host could.
 */
import { DEFAULTS } from '../../config';
import { envOf, type ComposeService } from './compose-file';

export interface PublishedPort {
  service: string;
  /** The host address it is bound to; 0.0.0.0 when compose was given none (every interface). */
  hostIp: string;
  published: string;
  target: string;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|\[::1\]|localhost)$/;
export const TEMPORAL_FRONTEND_PORT = '7233';

/** `ip:published:target/proto`, `published:target`, `target`, or the long form (no host_ip: every interface). */
function parsePort(service: string, entry: NonNullable<ComposeService['ports']>[number]): PublishedPort {
  if (typeof entry === 'object') {
    return { service, hostIp: entry.host_ip || '0.0.0.0', published: String(entry.published ?? '(random)'), target: String(entry.target ?? '') };
  }
  const parts = String(entry)
    .replace(/\/(tcp|udp|sctp)$/, '')
    .split(':');
  const target = parts.pop() ?? '';
  const published = parts.pop() || '(random)';
  return { service, hostIp: parts.join(':') || '0.0.0.0', published, target };
}

export function publishedPorts(services: Record<string, ComposeService>): PublishedPort[] {
  return Object.entries(services).flatMap(([name, svc]) => (svc.ports ?? []).map((p) => parsePort(name, p)));
}

const isCodecServer = (svc: ComposeService): boolean => [svc.command ?? [], svc.entrypoint ?? []].flat().some((part) => part.includes('codec-server-main'));
const isTemporalServer = (svc: ComposeService): boolean => /^temporalio\/(auto-setup|server)(:|$)/.test(svc.image ?? '');

/** The codec server checks who calls: a token (inline or as a file) or the API's tokens. */
function codecAuthenticated(svc: ComposeService): boolean {
  const env = envOf(svc);
  return Boolean(env.LETHE_CODEC_TOKEN || env.LETHE_CODEC_TOKEN_FILE || env.LETHE_CODEC_AUTH === 'api-tokens');
}

/** Temporal's frontend with mutual TLS (its docker image's TEMPORAL_TLS_* settings): a certificate, and clients must present one. */
function temporalMutualTls(svc: ComposeService): boolean {
  const env = envOf(svc);
  return Boolean(env.TEMPORAL_TLS_FRONTEND_CERT && env.TEMPORAL_TLS_FRONTEND_KEY && env.TEMPORAL_TLS_CLIENT1_CA_CERT) && env.TEMPORAL_TLS_REQUIRE_CLIENT_AUTH === 'true';
}

/** Every unsafe exposure, one sentence each naming the service, the port and what to do; empty when safe. */
export function exposureFindings(services: Record<string, ComposeService>, apiService = 'lethe-api'): string[] {
  const findings: string[] = [];
  const apiPort = envOf(services[apiService] ?? {}).LETHE_API_PORT || String(DEFAULTS.apiPort);
  for (const [name, svc] of Object.entries(services)) {
    if (svc.network_mode === 'host' && name !== apiService) {
      findings.push(`${name} uses network_mode: host, which publishes every port it listens on, on every address`);
    }
  }
  for (const p of publishedPorts(services)) {
    const svc = services[p.service];
    const where = `${p.service} publishes ${p.hostIp}:${p.published} (container port ${p.target})`;
    if (isCodecServer(svc) && !codecAuthenticated(svc)) {
      findings.push(`${where} without a codec token: anyone who reaches it decrypts payloads; set LETHE_CODEC_TOKEN or LETHE_CODEC_AUTH=api-tokens, or do not publish it`);
    }
    // Any port of the server (frontend, and the history and matching services' gRPC), or a 7233 elsewhere.
    if (isTemporalServer(svc) || p.target === TEMPORAL_FRONTEND_PORT) {
      if (!temporalMutualTls(svc)) {
        findings.push(
          `${where}, Temporal's frontend, without mutual TLS: anyone who reaches it can start, signal or terminate deletions; do not publish it, or set TEMPORAL_TLS_* with TEMPORAL_TLS_REQUIRE_CLIENT_AUTH=true`,
        );
      }
    }
    const isApi = p.service === apiService && p.target === apiPort;
    if (!isApi && !LOOPBACK.test(p.hostIp)) {
      findings.push(`${where} beyond this host: only the API may be; bind it to 127.0.0.1 (and put TLS and authentication in front to reach it from elsewhere)`);
    }
  }
  return findings;
}
