import { describe, expect, it } from 'vitest';
import { decodeXmlText, parseListObjectsV2, parseS3Error } from '../../../shared/plugins/s3-xml.js';

const page = `<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>models</Name><Prefix>m/</Prefix><KeyCount>2</KeyCount>
<IsTruncated>true</IsTruncated>
<Contents><Key>m/a&amp;b/1/model.onnx</Key><LastModified>2026-11-21T04:00:00.000Z</LastModified><ETag>&quot;abc&quot;</ETag><Size>123</Size></Contents>
<Contents><Key>m/c/config.json</Key><Size>0</Size></Contents>
<NextContinuationToken>tok&#x2F;1</NextContinuationToken></ListBucketResult>`;

describe('S3 XML', () => {
  it('reads a ListObjectsV2 page: keys decoded, ETag unquoted, times in ms, the continuation token', () => {
    expect(parseListObjectsV2(page)).toEqual({
      objects: [
        { key: 'm/a&b/1/model.onnx', size: 123, etag: 'abc', lastModified: Date.parse('2026-11-21T04:00:00.000Z') },
        { key: 'm/c/config.json', size: 0 },
      ],
      nextContinuationToken: 'tok/1',
    });
    expect(parseListObjectsV2(page.replace('<IsTruncated>true', '<IsTruncated>false'))).not.toHaveProperty('nextContinuationToken');
  });

  it.each([
    ['<Error><Code>AccessDenied</Code></Error>', /not a ListBucketResult/],
    ['<ListBucketResult><Contents><Key>a</Key><Size>-4</Size></Contents></ListBucketResult>', /no valid Size/],
    ['<ListBucketResult><Contents><Size>4</Size></Contents></ListBucketResult>', /no Key/],
    ['<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>', /no NextContinuationToken/],
  ])('refuses a malformed answer %#', (xml, why) => {
    expect(() => parseListObjectsV2(xml)).toThrow(why);
  });

  it('decodes only the predefined entities and character references; no DTD is honoured', () => {
    expect(decodeXmlText('&lt;&gt;&amp;&quot;&apos;&#65;&#x42;&unknown;&#0;')).toBe('<>&"\'AB&unknown;&#0;');
    const withDtd = '<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><ListBucketResult><Contents><Key>&xxe;</Key><Size>1</Size></Contents></ListBucketResult>';
    expect(parseListObjectsV2(withDtd).objects[0]!.key).toBe('&xxe;');
  });

  it('reads S3 error bodies', () => {
    expect(parseS3Error('<Error><Code>NoSuchKey</Code><Message>The key &quot;x&quot; does not exist</Message></Error>')).toEqual({ code: 'NoSuchKey', message: 'The key "x" does not exist' });
    expect(parseS3Error('')).toEqual({});
  });
});
