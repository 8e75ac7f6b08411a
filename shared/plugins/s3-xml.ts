/**
 * Just enough XML for S3 answers: ListObjectsV2 results and error bodies. S3 writes flat,
 * attribute-free elements (`<Contents><Key>a</Key><Size>3</Size></Contents>`), so this finds
 * elements by name with indexOf (linear, no backtracking regular expression) and decodes the five
 * predefined entities and numeric character references. No DTDs, no external entities, nothing
 * evaluated. Callers bound the text's size before calling (S3ModelStore reads at most 8 MiB).
 */

/** One listed object as S3 describes it. */
export interface S3ListedObject {
  readonly key: string;
  readonly size: number;
  readonly etag?: string;
  /** ms since the Unix epoch. */
  readonly lastModified?: number;
}

/** One ListObjectsV2 page. */
export interface S3ListPage {
  readonly objects: S3ListedObject[];
  /** Set when `IsTruncated` is true: pass it as `continuation-token` for the next page. */
  readonly nextContinuationToken?: string;
}

const ENTITIES: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** Decodes XML character data: predefined entities and `&#NN;` / `&#xHH;`; unknown entities stay as written. */
export function decodeXmlText(s: string): string {
  return s.replace(/&(#x[0-9A-Fa-f]{1,6}|#[0-9]{1,7}|[a-z]{2,4});/g, (whole, ref: string) => {
    if (ref.startsWith('#')) {
      const code = ref[1] === 'x' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return ENTITIES[ref] ?? whole;
  });
}

/** The raw inner text of every `<tag>...</tag>` at any depth, in order (elements of one name do not nest in S3 answers). */
export function xmlElements(xml: string, tag: string): string[] {
  const open = `<${tag}>`;
  const close = `</${tag}>`;
  const out: string[] = [];
  let from = 0;
  for (;;) {
    const start = xml.indexOf(open, from);
    if (start < 0) break;
    const end = xml.indexOf(close, start + open.length);
    if (end < 0) break;
    out.push(xml.slice(start + open.length, end));
    from = end + close.length;
  }
  return out;
}

/** The decoded text of the first `<tag>`, or undefined. */
export function xmlText(xml: string, tag: string): string | undefined {
  const first = xmlElements(xml, tag)[0];
  return first === undefined ? undefined : decodeXmlText(first);
}

/**
 * Parses a ListObjectsV2 answer. Throws a plain Error naming what is missing when it is not one
 * (the store turns that into CLEAVE_E_UNAVAILABLE with the endpoint).
 */
export function parseListObjectsV2(xml: string): S3ListPage {
  if (!xml.includes('<ListBucketResult')) throw new Error('the answer is not a ListBucketResult document');
  const objects: S3ListedObject[] = [];
  for (const c of xmlElements(xml, 'Contents')) {
    const key = xmlText(c, 'Key');
    const size = Number(xmlText(c, 'Size'));
    if (key === undefined || !Number.isSafeInteger(size) || size < 0) throw new Error(`a Contents entry has no Key or no valid Size: ${c.slice(0, 120)}`);
    const etag = xmlText(c, 'ETag')?.replace(/^"|"$/g, '');
    const modified = Date.parse(xmlText(c, 'LastModified') ?? '');
    objects.push({ key, size, ...(etag ? { etag } : {}), ...(Number.isFinite(modified) ? { lastModified: modified } : {}) });
  }
  const truncated = xmlText(xml, 'IsTruncated') === 'true';
  const token = xmlText(xml, 'NextContinuationToken');
  if (truncated && !token) throw new Error('IsTruncated is true but there is no NextContinuationToken');
  return { objects, ...(truncated && token ? { nextContinuationToken: token } : {}) };
}

/** `{ code, message }` of an S3 `<Error>` body, each undefined when absent. */
export function parseS3Error(xml: string): { code?: string; message?: string } {
  const code = xmlText(xml, 'Code');
  const message = xmlText(xml, 'Message');
  return { ...(code !== undefined ? { code } : {}), ...(message !== undefined ? { message } : {}) };
}
