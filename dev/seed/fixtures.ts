/**
 * Demo and test data that fills every table of CONTRACT §2, the blob containers and both
 * vendors consistently. Deterministic for a given seed (ids, names, times, blob contents);
 * only ids the vendors mint themselves vary.
 */
import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import type { BlobStore } from '../../stores/blobs';
import type { Auth0Client } from '../../stores/auth0';
import type { RecurlyClient } from '../../stores/recurly';
import { isVendorError } from '../../stores/errors';

export interface SeedDeps {
  db: Knex;
  blobs: BlobStore;
  auth0: Auth0Client;
  recurly: RecurlyClient;
  /** Base URL of the Recurly sandbox, for subscriptions in states the public API cannot create. */
  recurlySandboxUrl?: string;
}

export type SubState = 'active' | 'future' | 'paused' | 'canceled' | 'expired' | 'failed';

export interface AccountSpec {
  id?: string;
  email?: string;
  createdAt?: Date;
  lastLoginAt?: Date | null;
  /** media rows, each with a real blob; split between images in `media` and videos in `exports`. */
  media?: number;
  /** blobs with no media row (an upload whose database write failed). */
  orphanBlobs?: number;
  /** how many of the media blobs also get a snapshot. */
  snapshots?: number;
  auth0?: 'linked' | 'legacy' | 'none';
  /** Recurly subscriptions; null: the person never had a billing account. */
  subscriptions?: { state: SubState; currentPeriodEndsAt?: Date }[] | null;
  loginEvents?: number;
  shares?: number;
  supportRequests?: number;
  /** support requests with no account id, only the email in another letter case. */
  emailOnlySupportRequests?: number;
}

export interface SeededAccount {
  id: string;
  email: string;
  auth0UserId: string | null;
  recurlyAccountCode: string | null;
  blobs: number;
}

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function uuidFrom(rand: () => number): string {
  const hex = Array.from({ length: 32 }, () => Math.floor(rand() * 16).toString(16)).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${'89ab'[Math.floor(rand() * 4)]}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

const FIRST = ['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Frances', 'Ken', 'Margaret', 'Niklaus'];
const LAST = ['Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov', 'Knuth', 'Allen', 'Thompson', 'Hamilton', 'Wirth'];
const CITIES = ['Lisbon', 'Oslo', 'Tartu', 'Ghent', 'Porto', 'Bergen', 'Lyon', 'Graz'];
const pick = <T>(rand: () => number, xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];

/** A few hundred bytes that start like a JPEG (or an MP4), so previews and sniffers behave. */
function fakeMedia(rand: () => number, kind: 'image' | 'video'): Buffer {
  const head = kind === 'image' ? Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46]) : Buffer.from('\0\0\0\x18ftypmp42', 'binary');
  const body = Buffer.alloc(128 + Math.floor(rand() * 256));
  for (let i = 0; i < body.length; i++) body[i] = Math.floor(rand() * 256);
  return Buffer.concat([head, body, kind === 'image' ? Buffer.from([0xff, 0xd9]) : Buffer.alloc(0)]);
}

async function inParallel<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (i < items.length) await fn(items[i++]);
    }),
  );
}

/** Seeding large data sets runs into the vendors' rate limits: wait as told and go on. */
async function politely<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isVendorError(err) || err.type !== 'rate_limited' || attempt >= 30) throw err;
      await new Promise((r) => setTimeout(r, err.retryAfterMs ?? 1000));
    }
  }
}

async function sandboxSubscription(url: string, body: Record<string, unknown>): Promise<{ id: string }> {
  let res = await fetch(`${url}/__sandbox/subscriptions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  for (let i = 0; res.status === 429 && i < 30; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    res = await fetch(`${url}/__sandbox/subscriptions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  }
  if (!res.ok) throw new Error(`Recurly sandbox refused a seeded subscription: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as { id: string };
}

/**
 * The account row went away while its media were being written (seeding into a database that
 * something else is deleting from): say which request took it, not just "foreign key".
 */
async function vanished(deps: SeedDeps, id: string, err: Error): Promise<never> {
  if (!/foreign key/.test(err.message)) throw err;
  // A foreign key can fail for another parent than the account: say which, and whether the account is still there.
  const still = await deps
    .db('accounts')
    .where({ id })
    .first('id')
    .catch(() => undefined);
  if (still) throw new Error(`seeding account ${id} failed on a foreign key while the account still exists: ${err.message}`);
  const by = await deps
    .db('lethe.deletion_requests')
    .where({ account_id: id })
    .first('channel', 'requested_by', 'created_at')
    .catch(() => undefined);
  throw new Error(
    `account ${id} disappeared while it was being seeded (${err.message}); ${by ? `deletion request via ${by.channel} by ${by.requested_by ?? '?'} at ${new Date(by.created_at).toISOString()}` : 'no deletion request names it'}`,
  );
}

export async function seedAccount(deps: SeedDeps, spec: AccountSpec, rand: () => number): Promise<SeededAccount> {
  const id = spec.id ?? uuidFrom(rand);
  const first = pick(rand, FIRST);
  const last = pick(rand, LAST);
  // The whole id, so two accounts never share an address, not even ids one character apart.
  const email = spec.email ?? `${first}.${last}.${id.replace(/-/g, '')}@example.test`.toLowerCase();
  const now = Date.now();
  const createdAt = spec.createdAt ?? new Date(now - Math.floor(rand() * 900) * 86_400_000);
  const lastLoginAt = spec.lastLoginAt === undefined ? new Date(createdAt.getTime() + Math.floor(rand() * (now - createdAt.getTime()))) : spec.lastLoginAt;

  let auth0UserId: string | null = null;
  const auth0Mode = spec.auth0 ?? 'linked';
  if (auth0Mode !== 'none') {
    const user = await politely(() => deps.auth0.createUser({ email, name: `${first} ${last}` }));
    // Legacy accounts predate the link: the user exists but only the email connects them.
    if (auth0Mode === 'linked') auth0UserId = user.userId;
  }

  const subs = spec.subscriptions === undefined ? [{ state: 'active' as SubState }] : spec.subscriptions;
  let recurlyAccountCode: string | null = null;
  const subscriptionRows: Record<string, unknown>[] = [];
  if (subs !== null) {
    recurlyAccountCode = `acct-${id.slice(0, 8)}-${id.slice(24)}`;
    await politely(() => deps.recurly.createAccount({ code: recurlyAccountCode!, email, firstName: first, lastName: last }));
    for (const s of subs) {
      const plan = pick(rand, ['timelapse-basic', 'timelapse-pro', 'timelapse-studio']);
      let subId: string;
      let ends = s.currentPeriodEndsAt ?? new Date(now + 20 * 86_400_000);
      if (s.state === 'active' && !s.currentPeriodEndsAt) {
        const created = await politely(() => deps.recurly.createSubscription({ accountCode: recurlyAccountCode!, planCode: plan }));
        subId = created.id;
        if (created.currentPeriodEndsAt) ends = new Date(created.currentPeriodEndsAt);
      } else {
        if (!deps.recurlySandboxUrl) throw new Error(`a ${s.state} subscription needs the Recurly sandbox`);
        subId = (await sandboxSubscription(deps.recurlySandboxUrl, { accountCode: recurlyAccountCode, planCode: plan, state: s.state, currentPeriodEndsAt: ends.toISOString() })).id;
      }
      subscriptionRows.push({ id: uuidFrom(rand), account_id: id, recurly_subscription_id: subId, plan_code: plan, state: s.state, current_period_ends_at: ends });
    }
  }

  await deps.db('accounts').insert({
    id,
    email,
    full_name: `${first} ${last}`,
    phone: `+351 9${Math.floor(rand() * 1e8)
      .toString()
      .padStart(8, '0')}`,
    address_line1: `${1 + Math.floor(rand() * 200)} Rua das Flores`,
    address_line2: rand() < 0.3 ? `Apt ${1 + Math.floor(rand() * 20)}` : null,
    city: pick(rand, CITIES),
    region: null,
    postal_code: `${1000 + Math.floor(rand() * 8999)}-${100 + Math.floor(rand() * 899)}`,
    country: 'PT',
    auth0_user_id: auth0UserId,
    recurly_account_code: recurlyAccountCode,
    created_at: createdAt,
    last_login_at: lastLoginAt,
  });
  if (subscriptionRows.length) await deps.db('subscriptions').insert(subscriptionRows);

  const cameras = Array.from({ length: 1 + Math.floor(rand() * 2) }, (_, i) => ({
    id: uuidFrom(rand),
    account_id: id,
    name: `${pick(rand, ['Garden', 'Roof', 'Site', 'Harbour'])} cam ${i + 1}`,
    location: pick(rand, CITIES),
    latitude: 38 + rand() * 20,
    longitude: -9 + rand() * 30,
    created_at: createdAt,
  }));
  await deps.db('cameras').insert(cameras);

  const mediaCount = spec.media ?? 6;
  const blobsToWrite: { container: string; name: string; data: Buffer; snapshot: boolean }[] = [];
  const mediaRows: Record<string, unknown>[] = [];
  for (let i = 0; i < mediaCount; i++) {
    const cam = cameras[i % cameras.length];
    const kind: 'image' | 'video' = i % 5 === 4 ? 'video' : 'image';
    const container = kind === 'video' ? 'exports' : 'media';
    const t = new Date(createdAt.getTime() + i * 3_600_000);
    const day = t.toISOString().slice(0, 10).replace(/-/g, '/');
    const name = `accounts/${id}/cameras/${cam.id}/${day}/${t.getTime()}-${i}.${kind === 'video' ? 'mp4' : 'jpg'}`;
    const data = fakeMedia(rand, kind);
    blobsToWrite.push({ container, name, data, snapshot: i < (spec.snapshots ?? 1) });
    mediaRows.push({ account_id: id, camera_id: cam.id, kind, container, blob_name: name, captured_at: t, bytes: data.length });
  }
  for (let i = 0; i < (spec.orphanBlobs ?? 1); i++) {
    const container = i % 2 === 0 ? 'media' : 'exports';
    blobsToWrite.push({ container, name: `accounts/${id}/uploads/orphan-${i}.jpg`, data: fakeMedia(rand, 'image'), snapshot: false });
  }
  await inParallel(blobsToWrite, 32, async (b) => {
    const blob = deps.blobs.container(b.container).getBlockBlobClient(b.name);
    await blob.uploadData(b.data, { blobHTTPHeaders: { blobContentType: b.name.endsWith('.mp4') ? 'video/mp4' : 'image/jpeg' } });
    if (b.snapshot) await blob.createSnapshot();
  });
  for (let i = 0; i < mediaRows.length; i += 1000) {
    await deps
      .db('media')
      .insert(mediaRows.slice(i, i + 1000))
      .catch((err) => vanished(deps, id, err));
  }

  const logins = Array.from({ length: spec.loginEvents ?? 3 }, (_, i) => ({
    account_id: id,
    occurred_at: new Date(createdAt.getTime() + i * 86_400_000),
    ip_address: `203.0.113.${1 + Math.floor(rand() * 250)}`,
    user_agent: 'Mozilla/5.0 (timelapse-app)',
  }));
  if (logins.length) await deps.db('login_events').insert(logins);

  const shares = Array.from({ length: spec.shares ?? 1 }, () => ({
    id: uuidFrom(rand),
    account_id: id,
    camera_id: cameras[0].id,
    recipient_email: `${pick(rand, FIRST).toLowerCase()}.friend.${id.slice(0, 6)}@example.test`,
    created_at: createdAt,
  }));
  if (shares.length) await deps.db('shares').insert(shares);

  const support = [
    ...Array.from({ length: spec.supportRequests ?? 1 }, () => ({ account_id: id, email, subject: 'Camera offline', body: `Hi, this is ${first}. My camera stopped.`, created_at: createdAt })),
    // Written before the person had an account, or from another client that upper-cased it.
    ...Array.from({ length: spec.emailOnlySupportRequests ?? 1 }, () => ({
      account_id: null,
      email: email.toUpperCase(),
      subject: 'Question before buying',
      body: 'Does it work in the rain?',
      created_at: createdAt,
    })),
  ];
  if (support.length) await deps.db('support_requests').insert(support);

  return { id, email, auth0UserId, recurlyAccountCode, blobs: blobsToWrite.length };
}

/**
 * A digest of everything stored about an account in every store, for "untouched" checks:
 * equal before and after means not one row, blob, snapshot or vendor field changed.
 */
export async function fingerprint(deps: SeedDeps, account: SeededAccount): Promise<string> {
  const h = createHash('sha256');
  const tables = ['accounts', 'cameras', 'media', 'subscriptions', 'login_events', 'shares'];
  for (const t of tables) {
    const col = t === 'accounts' ? 'id' : 'account_id';
    const rows = await deps.db(t).where(col, account.id).orderBy('id');
    h.update(`${t}:${JSON.stringify(rows)}`);
  }
  const support = await deps
    .db('support_requests')
    .where('account_id', account.id)
    .orWhere((w) => {
      w.whereNull('account_id').andWhereRaw('lower(email) = lower(?)', [account.email]);
    })
    .orderBy('id');
  h.update(`support:${JSON.stringify(support)}`);
  for (const c of deps.blobs.containers) {
    for await (const b of deps.blobs.container(c).listBlobsFlat({ prefix: `accounts/${account.id}/`, includeSnapshots: true })) {
      h.update(`${c}/${b.name}@${b.snapshot ?? ''}:${b.properties.etag}:${b.properties.contentLength}`);
    }
  }
  if (account.auth0UserId) h.update(`auth0:${JSON.stringify(await deps.auth0.getUser(account.auth0UserId))}`);
  h.update(`auth0-email:${JSON.stringify((await deps.auth0.findUsersByEmail(account.email)).map((u) => u.userId).sort())}`);
  if (account.recurlyAccountCode) {
    h.update(`recurly:${JSON.stringify(await deps.recurly.getAccount(account.recurlyAccountCode))}`);
    h.update(`recurly-live:${JSON.stringify(await deps.recurly.listLiveSubscriptions(account.recurlyAccountCode, new Date()))}`);
  }
  return h.digest('hex');
}
