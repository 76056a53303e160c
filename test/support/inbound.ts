/**
 * What the inbound-mail tests share: a world whose API holds a token of role `inbound` (as a
 * mail provider's hook would), and the API's SMTP listener for the privacy address, both over
 * the same front door. Whatever started is stopped if a later part fails.
 */
import { randomBytes } from 'node:crypto';
import { startWorld, type TestWorld } from './stack';
import { seedDepsOf } from './world-seed';
import { startApi, type TestApi } from './api';
import type { SeedDeps } from '../../dev/seed/fixtures';
import { tokenDigest } from '../../config';
import { createIntake } from '../../client/intake';
import { createFrontDoor } from '../../client/front-door';
import { createInbound } from '../../client/inbound';
import { startInboundSmtp } from '../../client/api/inbound-smtp';

export interface MailWorld {
  world: TestWorld;
  api: TestApi;
  seed: SeedDeps;
  smtp: { port: number; close(): Promise<void> };
  /** The bearer token of the `inbound` role, for `POST /v1/inbound-email`. */
  hookToken: string;
  /** The privacy address, where people write. */
  privacy: string;
  close(): Promise<void>;
}

export async function startMailWorld(): Promise<MailWorld> {
  const started: { close(): Promise<void> }[] = [];
  try {
    const world = await startWorld({ env: { LETHE_PUBLIC_RATE_LIMIT: '1000' } });
    started.push(world);
    const hookToken = randomBytes(32).toString('base64url');
    const api = await startApi(world, { config: { credentials: [...(world.config.api.credentials ?? []), { name: 'mail-hook', role: 'inbound', digest: tokenDigest(hookToken) }] } });
    started.push(api);
    const privacy = world.config.mail.privacyAddress;
    const intake = createIntake({ config: world.config, db: world.deps.db, temporal: world.client });
    const frontDoor = createFrontDoor({ config: world.config, db: world.deps.db, temporal: world.client, intake });
    const smtp = await startInboundSmtp({ host: '127.0.0.1', port: 0, privacyAddress: privacy, inbound: createInbound({ frontDoor }) });
    started.push(smtp);
    const close = async () => {
      for (const s of started.reverse()) await s.close();
    };
    return { world, api, seed: seedDepsOf(world), smtp, hookToken, privacy, close };
  } catch (err) {
    for (const s of started.reverse()) await s.close().catch(() => undefined);
    throw err;
  }
}
