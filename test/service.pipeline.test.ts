import { gzipSync } from 'node:zlib';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFauxqsS3 } from './support/fauxqs-s3.js';
import { type LedgerKind, ledgerStore, type TestLedgerStore } from './support/ledgers.js';
import { startS3rver } from './support/s3rver.js';
import {
  getObjectWithMetadata,
  getText,
  putObject,
  startTestService,
  type TestService,
  waitFor,
  waitForFile,
} from './support/service.js';

const GOOD = `<?xml version="1.0" encoding="UTF-8"?>
<nsx:items>
 <nsx:item id="1">
  <nsx:category>Jeans</nsx:category>
  <nsx:description>Bootleg</nsx:description>
  <nsx:images><nsx:image type="2" url="https://x.test/1_2.jpg"/></nsx:images>
  <nsx:prices><nsx:price><nsx:currency>EUR</nsx:currency><nsx:value>49.95</nsx:value></nsx:price></nsx:prices>
 </nsx:item>
 <nsx:item id="2">
  <nsx:category>Boot</nsx:category>
  <nsx:description>Front</nsx:description>
  <nsx:images/>
  <nsx:prices><nsx:price><nsx:currency>DKK</nsx:currency><nsx:value>445.60</nsx:value></nsx:price></nsx:prices>
 </nsx:item>
</nsx:items>
`;
const GOOD_JSON = [
  {
    product_id: '1',
    product_category: 'Jeans',
    product_description: 'Bootleg',
    product_images: { image_1: null, image_2: 'https://x.test/1_2.jpg' },
    prices: [{ currency: 'EUR', value: '49.95' }],
  },
  {
    product_id: '2',
    product_category: 'Boot',
    product_description: 'Front',
    product_images: {},
    prices: [{ currency: 'DKK', value: '445.60' }],
  },
];
const PARTLY_INVALID = `<items>
  <item id="7"><category>A</category><description>B</description><prices><price><currency>EUR</currency><value>1.00</value></price></prices></item>
  <item><category>no id</category></item>
</items>`;
const BROKEN = '<items><item id="1"><category>A</category></item>';

const backends: {
  name: string;
  start: () => Promise<{ endpoint: string; close(): Promise<void> }>;
  ledger: LedgerKind;
}[] = [
  { name: 's3rver', start: () => startS3rver(['xml-bucket', 'json-bucket']), ledger: 'sqlite' },
  { name: 'fauxqs S3', start: () => startFauxqsS3(['xml-bucket', 'json-bucket']), ledger: 'sqlite' },
  {
    name: 's3rver with the PostgreSQL ledger',
    start: () => startS3rver(['xml-bucket', 'json-bucket']),
    ledger: 'postgres',
  },
];

describe.each(backends)('pipeline on $name', ({ start, ledger }) => {
  let s3: { endpoint: string; close(): Promise<void> };
  let store: TestLedgerStore;
  let t: TestService;

  beforeAll(async () => {
    s3 = await start();
  });
  afterEach(async () => {
    await t?.close();
    await store?.dispose();
  });
  afterAll(async () => {
    await s3?.close();
  });

  /** A fresh service (own ledger and metrics) that sees only `prefix`, so no test sees another's files. */
  async function serviceFor(prefix: string): Promise<TestService> {
    store = await ledgerStore(ledger);
    t = await startTestService({ endpoint: s3.endpoint, env: { ...store.env, SOURCE_PREFIX: prefix } });
    return t;
  }

  it('converts good, partly invalid, broken and gzip files, and ignores other keys', async () => {
    await serviceFor('in/');
    const etag = await putObject(t.s3, 'xml-bucket', 'in/good.xml', GOOD);
    await putObject(t.s3, 'xml-bucket', 'in/partly.xml', PARTLY_INVALID);
    await putObject(t.s3, 'xml-bucket', 'in/broken.xml', BROKEN);
    await putObject(t.s3, 'xml-bucket', 'in/good.xml.gz', gzipSync(GOOD));
    await putObject(t.s3, 'xml-bucket', 'in/notes.txt', 'not a catalogue');
    await putObject(t.s3, 'xml-bucket', 'in/UPPER.XML', GOOD);
    const scan = await t.service.requestScan();
    await t.service.waitForScan(scan.id);
    await t.service.drain();

    const good = await waitForFile(t.service, 'in/good.xml');
    expect(good).toMatchObject({
      state: 'done',
      etag,
      itemsWritten: 2,
      itemsRejected: 0,
      outputKey: 'in/good.xml.json',
    });
    const out = await getObjectWithMetadata(t.s3, 'json-bucket', 'in/good.xml.json');
    expect(JSON.parse(out.body)).toEqual(GOOD_JSON);
    expect(out.body).toBe(JSON.stringify(GOOD_JSON));
    expect(out.metadata).toMatchObject({ 'source-etag': etag, 'items-written': '2', 'items-rejected': '0' });

    const gz = await waitForFile(t.service, 'in/good.xml.gz');
    expect(gz.state).toBe('done');
    expect(JSON.parse(await getText(t.s3, 'json-bucket', 'in/good.xml.gz.json'))).toEqual(GOOD_JSON);

    const partly = await waitForFile(t.service, 'in/partly.xml');
    expect(partly).toMatchObject({
      state: 'done',
      itemsWritten: 1,
      itemsRejected: 1,
      reportKey: '_reports/in/partly.xml.report.json',
    });
    const partlyReport = JSON.parse(await getText(t.s3, 'json-bucket', '_reports/in/partly.xml.report.json'));
    expect(partlyReport).toMatchObject({ source: 'in/partly.xml', itemsRejected: 1, error: null });
    expect(partlyReport.rejections[0]).toMatchObject({ line: 3, id: null, field: 'id' });
    expect(JSON.parse(await getText(t.s3, 'json-bucket', 'in/partly.xml.json'))).toHaveLength(1);

    const broken = await waitForFile(t.service, 'in/broken.xml');
    expect(broken.state).toBe('failed');
    // The converter's verdict with its line, not an S3 or ledger error.
    const truncated = {
      line: 1,
      message:
        'not well-formed XML: unexpected end of input: <items> from line 1 is not closed (truncated file?)',
    };
    expect(broken.error).toBe(`line 1: ${truncated.message}`);
    expect(broken.attempts).toBe(1);
    expect(broken.report).toMatchObject({ source: 'in/broken.xml', error: truncated });
    const brokenReport = JSON.parse(await getText(t.s3, 'json-bucket', '_reports/in/broken.xml.report.json'));
    expect(brokenReport.error).toEqual(truncated);
    await expect(
      t.s3.send(new HeadObjectCommand({ Bucket: 'json-bucket', Key: 'in/broken.xml.json' })),
    ).rejects.toMatchObject({ name: 'NotFound' });

    expect(await t.service.getFileVersions('in/notes.txt')).toEqual([]);
    expect(await t.service.getFileVersions('in/UPPER.XML')).toEqual([]);
    const counts = await t.service.ledger.countByState();
    expect(counts).toMatchObject({ done: 3, failed: 1, pending: 0, processing: 0 });

    // Newest first, paged by the last id seen; a cursor that is not an id is refused.
    const first = await t.service.listFiles({ limit: 2 });
    expect(first.files).toHaveLength(2);
    expect(first.nextCursor).toBe(String(first.files[1]!.id));
    const second = await t.service.listFiles({ limit: 2, cursor: first.nextCursor! });
    const all = await t.service.listFiles({ limit: 100 });
    expect(all.files).toHaveLength(4);
    expect(all.nextCursor).toBeNull();
    expect([...first.files, ...second.files].map((f) => f.id)).toEqual(all.files.map((f) => f.id));
    await expect(t.service.listFiles({ cursor: 'abc' })).rejects.toThrow(RangeError);
    await expect(t.service.listFiles({ cursor: '-1' })).rejects.toThrow(RangeError);
  });

  it('converts a re-upload (new ETag) again, and a repeated scan converts nothing twice', async () => {
    await serviceFor('again/');
    await putObject(t.s3, 'xml-bucket', 'again/good.xml', GOOD);
    await putObject(t.s3, 'xml-bucket', 'again/partly.xml', PARTLY_INVALID);
    const first = await t.service.requestScan();
    await t.service.waitForScan(first.id);
    await t.service.drain();
    expect((await t.service.getFileVersions('again/partly.xml'))[0]).toMatchObject({
      state: 'done',
      reportKey: '_reports/again/partly.xml.report.json',
    });

    const before = (await t.service.metrics.filesTotal.get()).values.reduce((s, v) => s + v.value, 0);
    expect(before).toBe(2);
    const scan = await t.service.requestScan();
    await t.service.waitForScan(scan.id);
    await t.service.drain();
    const afterRescan = (await t.service.metrics.filesTotal.get()).values.reduce((s, v) => s + v.value, 0);
    expect(afterRescan).toBe(before);

    const changed = GOOD.replace('Bootleg', 'Straight');
    const etag2 = await putObject(t.s3, 'xml-bucket', 'again/good.xml', changed);
    await t.service.recordVersions([{ bucket: 'xml-bucket', key: 'again/good.xml', etag: etag2 }], 'event');
    const row = await waitFor(async () => {
      const [latest] = await t.service.getFileVersions('again/good.xml');
      return latest?.etag === etag2 && latest.state === 'done' ? latest : null;
    });
    expect(row.discoveredBy).toBe('event');
    const out = await getObjectWithMetadata(t.s3, 'json-bucket', 'again/good.xml.json');
    expect(out.metadata['source-etag']).toBe(etag2);
    expect(JSON.parse(out.body)[0].product_description).toBe('Straight');
    expect((await t.service.getFileVersions('again/good.xml')).map((f) => f.state)).toEqual(['done', 'done']);

    // A clean re-upload of a file that had rejections removes its now stale report.
    const fixed = await putObject(t.s3, 'xml-bucket', 'again/partly.xml', GOOD);
    await t.service.recordVersions([{ bucket: 'xml-bucket', key: 'again/partly.xml', etag: fixed }], 'event');
    await t.service.drain();
    const [latest] = await t.service.getFileVersions('again/partly.xml');
    expect(latest).toMatchObject({ etag: fixed, state: 'done', itemsRejected: 0, reportKey: null });
    await expect(
      t.s3.send(
        new HeadObjectCommand({ Bucket: 'json-bucket', Key: '_reports/again/partly.xml.report.json' }),
      ),
    ).rejects.toMatchObject({ name: 'NotFound' });
  });
});
