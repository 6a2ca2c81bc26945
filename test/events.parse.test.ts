import { describe, expect, it } from 'vitest';
import {
  decodeEventKey,
  encodeEventKey,
  MalformedNotificationError,
  parseNotification,
} from '../src/discovery/s3-events.js';
import { createKeyFilter } from '../src/discovery/types.js';

const SUFFIXES = ['.xml', '.xml.gz'];
/** The production rule (the scan's), as the service builds it from SOURCE_PREFIX/SOURCE_SUFFIXES. */
const filter = {
  bucket: 'xml-bucket',
  matchesKey: createKeyFilter({ sourcePrefix: '', sourceSuffixes: SUFFIXES }),
};

/** An S3 → SQS record as AWS documents it (notification-content-structure), with our values. */
function s3Record(
  key: string,
  overrides: Record<string, unknown> = {},
  object: Record<string, unknown> = {},
) {
  return {
    eventVersion: '2.1',
    eventSource: 'aws:s3',
    awsRegion: 'eu-west-1',
    eventTime: '2026-11-26T10:00:00.123Z',
    eventName: 'ObjectCreated:Put',
    userIdentity: { principalId: 'AWS:AIDAJDPLRKLG7UEXAMPLE' },
    requestParameters: { sourceIPAddress: '203.0.113.7' },
    responseElements: {
      'x-amz-request-id': 'C3D13FE58DE4C810',
      'x-amz-id-2': 'FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V',
    },
    s3: {
      s3SchemaVersion: '1.0',
      configurationId: 'file-transformer',
      bucket: {
        name: 'xml-bucket',
        ownerIdentity: { principalId: 'A3NL1KOZZKExample' },
        arn: 'arn:aws:s3:::xml-bucket',
      },
      object: {
        key,
        size: 1024,
        eTag: 'd41d8cd98f00b204e9800998ecf8427e',
        sequencer: '0055AED6DCD90281E5',
        ...object,
      },
    },
    ...overrides,
  };
}

describe('S3 → SQS notifications', () => {
  it('returns the version of an ObjectCreated record with its size, time and sequencer', () => {
    const parsed = parseNotification(JSON.stringify({ Records: [s3Record('feeds/a.xml')] }), filter);
    expect(parsed.envelope).toBe('records');
    expect(parsed.testEvent).toBe(false);
    expect(parsed.versions).toEqual([
      {
        bucket: 'xml-bucket',
        key: 'feeds/a.xml',
        etag: 'd41d8cd98f00b204e9800998ecf8427e',
        size: 1024,
        eventTime: '2026-11-26T10:00:00.123Z',
        sequencer: '0055AED6DCD90281E5',
      },
    ]);
    expect(parsed.invalid).toEqual([]);
  });

  it('takes several records from one message, in order, dropping repeats of the same version', () => {
    const records = [
      s3Record('b.xml'),
      s3Record('a.xml', {}, { eTag: 'aaaa' }),
      s3Record('b.xml'),
      s3Record('a.xml', { eventName: 'ObjectCreated:CompleteMultipartUpload' }, { eTag: 'bbbb-3' }),
    ];
    const parsed = parseNotification({ Records: records }, filter);
    expect(parsed.versions.map((v) => [v.key, v.etag])).toEqual([
      ['b.xml', 'd41d8cd98f00b204e9800998ecf8427e'],
      ['a.xml', 'aaaa'],
      ['a.xml', 'bbbb-3'],
    ]);
  });

  it('decodes keys with spaces, +, %, unicode and (1) as S3 encodes them', () => {
    const keys = [
      'my file (1).xml',
      'c++ catalogue.xml',
      '50% off.xml',
      'Ökö/商品 ✓.xml',
      'a=b;c:d,e&f@g$.xml',
    ];
    const records = keys.map((key) => s3Record(encodeEventKey(key)));
    // What AWS really sends for two of them, spelled out so the encoder is not testing itself.
    expect(encodeEventKey('my file (1).xml')).toBe('my+file+(1).xml');
    expect(encodeEventKey('c++ catalogue.xml')).toBe('c%2B%2B+catalogue.xml');
    const parsed = parseNotification({ Records: records }, filter);
    expect(parsed.versions.map((v) => v.key)).toEqual(keys);
  });

  it("accepts other encoders' forms too: escaped parentheses and %20 for space", () => {
    const parsed = parseNotification(
      { Records: [s3Record('my+file+%281%29.xml'), s3Record('other%20file.xml')] },
      filter,
    );
    expect(parsed.versions.map((v) => v.key)).toEqual(['my file (1).xml', 'other file.xml']);
  });

  it('strips the quotes around an eTag when present', () => {
    const parsed = parseNotification({ Records: [s3Record('q.xml', {}, { eTag: '"abc123-2"' })] }, filter);
    expect(parsed.versions[0]!.etag).toBe('abc123-2');
  });

  it('marks a record with a malformed % sequence invalid and keeps the others', () => {
    const parsed = parseNotification({ Records: [s3Record('bad%ZZkey.xml'), s3Record('good.xml')] }, filter);
    expect(parsed.versions.map((v) => v.key)).toEqual(['good.xml']);
    expect(parsed.invalid).toHaveLength(1);
    expect(parsed.invalid[0]!.index).toBe(0);
    expect(parsed.invalid[0]!.reason).toMatch(/URL encoding/);
  });

  it('marks a creation record without an eTag invalid', () => {
    const parsed = parseNotification({ Records: [s3Record('x.xml', {}, { eTag: undefined })] }, filter);
    expect(parsed.versions).toEqual([]);
    expect(parsed.invalid).toHaveLength(1);
  });

  it('ignores deletions, other buckets, other prefixes and suffixes', () => {
    const otherBucket = s3Record('x.xml');
    otherBucket.s3.bucket.name = 'someone-else';
    const parsed = parseNotification(
      {
        Records: [
          s3Record('gone.xml', { eventName: 'ObjectRemoved:Delete' }),
          otherBucket,
          s3Record('notes.txt'),
          s3Record('in/feed.xml'),
          s3Record('in/FEED.XML'),
          s3Record('packed.xml.gz'),
        ],
      },
      { ...filter, matchesKey: createKeyFilter({ sourcePrefix: 'in/', sourceSuffixes: SUFFIXES }) },
    );
    expect(parsed.versions.map((v) => v.key)).toEqual(['in/feed.xml']);
    expect(parsed.ignored).toBe(5);
  });

  it('applies exactly the rule it is given', () => {
    const parsed = parseNotification(
      { Records: [s3Record('a.json'), s3Record('b.xml')] },
      { bucket: 'xml-bucket', matchesKey: (key) => key.endsWith('.json') },
    );
    expect(parsed.versions.map((v) => v.key)).toEqual(['a.json']);
  });

  it('recognises the s3:TestEvent sent when notifications are configured', () => {
    const parsed = parseNotification(
      JSON.stringify({
        Service: 'Amazon S3',
        Event: 's3:TestEvent',
        Time: '2026-11-26T10:00:00.000Z',
        Bucket: 'xml-bucket',
        RequestId: '5582815E1AEA5ADF',
        HostId: '8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE',
      }),
      filter,
    );
    expect(parsed.testEvent).toBe(true);
    expect(parsed.versions).toEqual([]);
  });
});

describe('MinIO webhook notifications', () => {
  it('reads s3:-prefixed event names and minio:s3 records', () => {
    const record = s3Record('incoming%2Fpartner+feed.xml', {
      eventSource: 'minio:s3',
      eventName: 's3:ObjectCreated:Put',
    });
    const parsed = parseNotification(
      { EventName: 's3:ObjectCreated:Put', Key: 'xml-bucket/incoming/partner feed.xml', Records: [record] },
      filter,
    );
    expect(parsed.versions.map((v) => v.key)).toEqual(['incoming/partner feed.xml']);
  });
});

describe('S3 → SNS → SQS notifications', () => {
  const envelope = (message: unknown) => ({
    Type: 'Notification',
    MessageId: '6a1ec6a0-7bf1-5e1b-9f3b-64c8ef3e4d9e',
    TopicArn: 'arn:aws:sns:eu-west-1:123456789012:xml-uploads',
    Subject: 'Amazon S3 Notification',
    Message: JSON.stringify(message),
    Timestamp: '2026-11-26T10:00:00.456Z',
    SignatureVersion: '1',
    Signature: 'EXAMPLEpH+..',
    SigningCertURL: 'https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc.pem',
    UnsubscribeURL: 'https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:x',
  });

  it('unwraps the Message string and reads its records', () => {
    const parsed = parseNotification(
      JSON.stringify(envelope({ Records: [s3Record('a+b.xml'), s3Record('c.xml', {}, { eTag: 'cc' })] })),
      filter,
    );
    expect(parsed.envelope).toBe('sns');
    expect(parsed.versions.map((v) => v.key)).toEqual(['a b.xml', 'c.xml']);
  });

  it('recognises a test event inside SNS', () => {
    const parsed = parseNotification(envelope({ Service: 'Amazon S3', Event: 's3:TestEvent' }), filter);
    expect(parsed.testEvent).toBe(true);
  });

  it('reports a SubscriptionConfirmation with its SubscribeURL and records nothing', () => {
    const parsed = parseNotification(
      {
        Type: 'SubscriptionConfirmation',
        MessageId: '165545c9-2a5c-472c-8df2-7ff2be2b3b1b',
        Token:
          '2336412f37fb687f5d51e6e241d09c805a5a57b30d712f794cc5f6a988666d92768dd60a747ba6f3beb71854e285d6ad02428b09ceece29417f1f02d609c582afbacc99c583a916b9981dd2728f4ae6fdb82efd087cc3b7849e05798d2d2785c03b0879594eeac82c01f235d0e717736',
        TopicArn: 'arn:aws:sns:eu-west-1:123456789012:xml-uploads',
        Message: 'You have chosen to subscribe to the topic arn:aws:sns:eu-west-1:123456789012:xml-uploads.',
        SubscribeURL:
          'https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:eu-west-1:123456789012:xml-uploads&Token=2336412f',
        Timestamp: '2026-11-26T10:00:00.000Z',
      },
      filter,
    );
    expect(parsed.subscription).toEqual({
      type: 'SubscriptionConfirmation',
      topicArn: 'arn:aws:sns:eu-west-1:123456789012:xml-uploads',
      subscribeUrl:
        'https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:eu-west-1:123456789012:xml-uploads&Token=2336412f',
    });
    expect(parsed.versions).toEqual([]);
  });

  it('rejects an SNS notification whose Message is not JSON', () => {
    expect(() => parseNotification({ Type: 'Notification', Message: 'hello' }, filter)).toThrow(
      MalformedNotificationError,
    );
  });
});

describe('S3 → EventBridge → SQS events', () => {
  const eventBridge = (key: string, detailType = 'Object Created') => ({
    version: '0',
    id: '17793124-05d4-b198-2fde-7ededc63b103',
    'detail-type': detailType,
    source: 'aws.s3',
    account: '123456789012',
    time: '2026-11-26T10:00:01Z',
    region: 'eu-west-1',
    resources: ['arn:aws:s3:::xml-bucket'],
    detail: {
      version: '0',
      bucket: { name: 'xml-bucket' },
      object: {
        key,
        size: 5,
        etag: 'b1946ac92492d2347c6235b4d2611184',
        'version-id': 'IYV3p45BT0ac8hjHg1houSdS1a.Mro8e',
        sequencer: '617f08299329d189',
      },
      'request-id': 'N4N7GDK58NMKJ12R',
      requester: '123456789012',
      'source-ip-address': '1.2.3.4',
      reason: 'PutObject',
    },
  });

  it('reads detail.bucket.name and detail.object, taking the key verbatim', () => {
    const parsed = parseNotification(JSON.stringify(eventBridge('feeds/a+b 50%.xml')), filter);
    expect(parsed.envelope).toBe('eventbridge');
    expect(parsed.versions).toEqual([
      {
        bucket: 'xml-bucket',
        key: 'feeds/a+b 50%.xml',
        etag: 'b1946ac92492d2347c6235b4d2611184',
        size: 5,
        eventTime: '2026-11-26T10:00:01Z',
        sequencer: '617f08299329d189',
      },
    ]);
  });

  it('ignores other detail types', () => {
    const parsed = parseNotification(eventBridge('a.xml', 'Object Deleted'), filter);
    expect(parsed.versions).toEqual([]);
    expect(parsed.ignored).toBe(1);
  });

  it('unwraps EventBridge delivered through SNS', () => {
    const parsed = parseNotification(
      { Type: 'Notification', Message: JSON.stringify(eventBridge('x.xml')) },
      filter,
    );
    expect(parsed.versions.map((v) => v.key)).toEqual(['x.xml']);
  });
});

describe('malformed messages', () => {
  it.each([
    ['not JSON', '{"Records": ['],
    ['a JSON array', '[1,2]'],
    ['an unknown object', '{"hello": "world"}'],
    ['a JSON string', '"Records"'],
  ])('rejects %s as a whole', (_what, body) => {
    expect(() => parseNotification(body, filter)).toThrow(MalformedNotificationError);
  });

  it('decodeEventKey throws on a lone %', () => {
    expect(() => decodeEventKey('100%.xml')).toThrow(URIError);
  });
});
