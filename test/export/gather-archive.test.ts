/**
 * The access activities on their own (MockActivityEnvironment over the test stack's PostgreSQL,
 * Azurite and Auth0 sandbox): a legacy account's login found by email that carries another
 * account's login as a linked identity is left out; table cells a spreadsheet would run as a
 * formula are neutralised; a media file deleted after it was listed is left out of the archive
 * and named in its notes; a file whose size changed is retried, then stops for a person.
 */
import { randomUUID } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/common';
import { buildDeps, type WorkerDeps } from '../../worker/deps';
import { createActivities } from '../../activities';
import { createArchiveStore } from '../../stores/archive';
import { toCsv } from '../../activities/access/render';
import { partName, stagedName, type GatherResult } from '../../activities/access/types';
import { SIZE_MISMATCH_TRIES } from '../../activities/access/archive';
import { FailureType } from '../../contract';
import { seedAccount } from '../../dev/seed/fixtures';
import { testConfig } from '../support/stack';
import { rngFor } from '../support/world-seed';
import { readZip } from './zip';

type Acts = ReturnType<typeof createActivities>;

describe('access activities', () => {
  let deps: WorkerDeps;
  let acts: Acts;
  const rand = rngFor(__filename);
  beforeAll(() => {
    deps = buildDeps(testConfig());
    acts = createActivities(deps);
  });
  afterAll(async () => {
    await deps?.close();
  });
  const seed = () => ({ db: deps.db, blobs: deps.blobs, auth0: deps.auth0, recurly: deps.recurly });
  const env = () => new MockActivityEnvironment({ scheduledTimestampMs: Date.now() });
  const archiveOf = () => createArchiveStore(deps.blobs, deps.config.access!.container);

  test('when a legacy account’s login found by its address carries another account’s login as a linked identity, then it is not in the copy, and the copy says why', async () => {
    const legacy = await seedAccount(seed(), { media: 0, auth0: 'legacy', subscriptions: null }, rand);
    const other = await seedAccount(seed(), { media: 0, auth0: 'none', subscriptions: null }, rand);
    // A bystander whose address differs only in letter case would make the login unknowable
    // (another rule); here the only other account is the one whose login is linked in.
    const [primary] = await deps.auth0.findUsersByEmail(legacy.email);
    expect(primary).toBeDefined();
    const secondary = await deps.auth0.createUser({ email: `linked.${randomUUID().slice(0, 8)}@example.test`, name: 'Linked Login' });
    await deps.auth0.linkUser(primary.userId, secondary.userId);
    await deps.db('accounts').where({ id: other.id }).update({ auth0_user_id: secondary.userId });

    const requestId = randomUUID();
    const r = (await env().run(acts.gatherAuth0, { requestId, accountId: legacy.id })) as GatherResult;
    expect(r.counts).toEqual({ users: 0, identities: 0 });
    const staged = JSON.parse((await archiveOf().get(stagedName(requestId, 'auth0')))!.toString('utf8'));
    expect(staged.users).toEqual([]);
    expect(staged.notes).toEqual([expect.stringMatching(/login of another account/)]);

    // Without the other account's claim, the same login is the legacy account's own.
    await deps.db('accounts').where({ id: other.id }).update({ auth0_user_id: null });
    const mine = (await env().run(acts.gatherAuth0, { requestId, accountId: legacy.id })) as GatherResult;
    expect(mine.counts.users).toBe(1);
  }, 60_000);

  test('when a table holds values starting =, +, - or @, then the CSV cell is neutralised for spreadsheets, numbers kept', () => {
    const csv = toCsv([{ a: '=HYPERLINK("http://x","y")', b: '+1 555 0100', c: '-A1+B1', d: '@SUM(A1)', e: -12.5, f: 'plain' }]);
    const [, row] = csv.split('\r\n');
    expect(row).toBe(`"'=HYPERLINK(""http://x"",""y"")",'+1 555 0100,'-A1+B1,'@SUM(A1),-12.5,plain`);
  });

  async function staged(media: number) {
    const a = await seedAccount(seed(), { media, snapshots: 0, auth0: 'none', subscriptions: null }, rand);
    const requestId = randomUUID();
    const req = { requestId, accountId: a.id };
    for (const g of [acts.gatherDatabase, acts.gatherAuth0, acts.gatherRecurly, acts.gatherMedia]) await env().run(g, req);
    const files = JSON.parse((await archiveOf().get(stagedName(requestId, 'media')))!.toString('utf8')).files as { container: string; name: string; path: string; bytes: number }[];
    expect(files).toHaveLength(a.blobs);
    return { a, requestId, files };
  }

  test('when a media file is deleted after it was listed, then the archive is written without it and its notes name it', async () => {
    const { a, requestId, files } = await staged(3);
    const gone = files[1];
    await deps.blobs.container(gone.container).getBlobClient(gone.name).delete({ deleteSnapshots: 'include' });

    const r = await env().run(acts.buildArchive, { requestId, accountId: a.id, partBytes: 2 * 1024 ** 3 });
    expect(r).toMatchObject({ parts: 1, mediaFiles: files.length - 1, mediaGone: 1 });
    const zip = readZip((await archiveOf().get(partName(requestId, 1, 1)))!);
    expect(zip.has(gone.path)).toBe(false);
    for (const f of files.filter((x) => x !== gone)) expect(zip.has(f.path)).toBe(true);
    const data = JSON.parse(zip.get('data.json')!.data.toString('utf8'));
    expect(data.stores.media.files.map((f: { path: string }) => f.path)).not.toContain(gone.path);
    expect(data.stores.media.notes).toEqual([`${gone.path}: deleted while this copy was being made, so it is not included`]);
    expect(zip.get('index.html')!.data.toString('utf8')).toContain('deleted while this copy was being made');
  }, 60_000);

  test('when a media file’s size changed since it was listed, then the write is retried, and past its tries stops as Precondition saying what to do', async () => {
    const { a, requestId, files } = await staged(2);
    const changed = files[0];
    await deps.blobs
      .container(changed.container)
      .getBlockBlobClient(changed.name)
      .uploadData(Buffer.alloc(changed.bytes + 7, 1));
    const req = { requestId, accountId: a.id, partBytes: 2 * 1024 ** 3 };

    const first = await new MockActivityEnvironment({ attempt: 1, scheduledTimestampMs: Date.now() }).run(acts.buildArchive, req).catch((e: unknown) => e);
    expect(first).toBeInstanceOf(ApplicationFailure);
    expect([(first as ApplicationFailure).type, (first as ApplicationFailure).nonRetryable]).toEqual([FailureType.Unavailable, false]);

    const last = await new MockActivityEnvironment({ attempt: SIZE_MISMATCH_TRIES, scheduledTimestampMs: Date.now() }).run(acts.buildArchive, req).catch((e: unknown) => e);
    expect((last as ApplicationFailure).type).toBe(FailureType.Precondition);
    expect((last as ApplicationFailure).message).toMatch(new RegExp(`read ${changed.bytes + 7} bytes where ${changed.bytes}.*lethe access retry ${requestId}`));
    // Nothing half-written is readable: a block blob exists only once committed.
    expect(await archiveOf().get(partName(requestId, 1, 1))).toBeNull();
  }, 60_000);
});
