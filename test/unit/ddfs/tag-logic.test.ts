/** The pure tag decisions (wire spec §5.4, §5.5), exhaustively and with properties. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeTag,
  encodeTag,
  encodeTagSecure,
  type TagContent,
} from '../../../src/ddfs/master/tag-content.js';
import {
  bufferDelayed,
  type Caller,
  checkToken,
  decide,
  INTERNAL,
  MAX_ATTRIBUTES,
  mergeUrls,
  type TagData,
  type Token,
} from '../../../src/ddfs/master/tag-logic.js';
import { urlToName } from '../../../src/ddfs/names.js';

const V = { id: 't$5dc-2-3', lastModified: '2024/01/02 03:04:05' };

function content(extra: Partial<TagContent> = {}): TagContent {
  return {
    id: 't$5dc-1-1',
    lastModified: '2024/01/01 00:00:00',
    readToken: null,
    writeToken: null,
    urls: [],
    user: [],
    ...extra,
  };
}
const ok = (extra: Partial<TagContent> = {}): TagData => ({ kind: 'ok', content: content(extra) });
const missing: TagData = { kind: 'missing', deleted: false };
const deleted: TagData = { kind: 'missing', deleted: true };

function blob(name: string, ts = '5dc-1-1', host = 'node1'): string[] {
  return [`disco://${host}/ddfs/vol0/blob/ab/${name}$${ts}`];
}

describe('checkToken (§5.5)', () => {
  const cases: [string, 'read' | 'write', Caller, Token, Token, 'read' | 'write' | false][] = [
    ['no tokens, read', 'read', null, null, null, 'write'],
    ['no tokens, write', 'write', null, null, null, 'write'],
    ['any token on an open tag', 'write', 'x', null, null, 'write'],
    ['read-token, right token', 'read', 'r', 'r', null, 'write'],
    ['read-token, no token', 'read', null, 'r', null, false],
    ['read-token, wrong token', 'read', 'x', 'r', null, false],
    ['read-token, write open', 'write', null, 'r', null, 'write'],
    ['write-token, read without token', 'read', null, null, 'w', 'read'],
    ['write-token, read with any token', 'read', 'x', null, 'w', 'read'],
    ['write-token, read with the write token', 'read', 'w', null, 'w', 'write'],
    ['write-token, write without token', 'write', null, null, 'w', false],
    ['write-token, write wrong token', 'write', 'x', null, 'w', false],
    ['write-token, write right token', 'write', 'w', null, 'w', 'write'],
    ['both, read with write token', 'read', 'w', 'r', 'w', 'write'],
    ['both, read with read token', 'read', 'r', 'r', 'w', 'read'],
    ['both, write with read token', 'write', 'r', 'r', 'w', false],
    ['both equal', 'read', 't', 't', 't', 'write'],
    ['empty string is a real token', 'read', null, '', '', false],
    ['empty string token matches', 'read', '', '', '', 'write'],
    ['internal passes everything', 'write', INTERNAL, 'r', 'w', 'write'],
  ];
  it.each(cases)('%s', (_name, type, token, rt, wt, want) => {
    expect(checkToken(type, token, rt, wt)).toBe(want);
  });

  const tok = fc.option(fc.constantFrom('', 'a', 'b', 'c'), { nil: null });
  it('write is allowed iff the token matches the write-token', () => {
    fc.assert(
      fc.property(tok, tok, tok, (t, rt, wt) => {
        const allowed = checkToken('write', t, rt, wt) === 'write';
        expect(allowed).toBe(wt === null || t === wt);
      }),
    );
  });
  it('read is allowed iff the token matches the read-token, or a set write-token', () => {
    fc.assert(
      fc.property(tok, tok, tok, (t, rt, wt) => {
        const p = checkToken('read', t, rt, wt);
        const readMatch = rt === null || t === rt;
        expect(p !== false).toBe(readMatch || (wt !== null && t === wt));
        // Write privilege on a read op only when writes would be allowed too.
        if (p === 'write') expect(checkToken('write', t, rt, wt)).toBe('write');
      }),
    );
  });
});

describe('mergeUrls (§5.4)', () => {
  it('appends posted before old, keeps order; [] changes nothing', () => {
    expect(mergeUrls([['a'], ['b']], [['c']], false)).toEqual({ updated: true, urls: [['a'], ['b'], ['c']] });
    expect(mergeUrls([], [['c']], false)).toEqual({ updated: false, urls: [['c']] });
    expect(mergeUrls([], null, false)).toEqual({ updated: true, urls: [] });
    expect(mergeUrls([], null, true)).toEqual({ updated: true, urls: [] });
  });

  it('nodup skips names already present or earlier in the post, prepends the rest one by one', () => {
    const old = [blob('x')];
    const posted = [blob('a'), blob('b', '5dc-1-2'), blob('a', '5dc-9-9'), blob('x', '5dc-2-2'), ['tag://t']];
    expect(mergeUrls(posted, old, true)).toEqual({
      updated: true,
      urls: [['tag://t'], blob('b', '5dc-1-2'), blob('a'), blob('x')],
    });
    expect(mergeUrls([blob('x', '5dc-3-3')], old, true)).toEqual({ updated: false, urls: old });
  });

  it('nodup never treats nameless URLs as duplicates', () => {
    expect(mergeUrls([['urls'], ['urls'], []], [['urls']], true).urls).toEqual([
      [],
      ['urls'],
      ['urls'],
      ['urls'],
    ]);
  });

  const name = fc.constantFrom('a', 'b', 'c', 'd', 'e');
  const set = fc.tuple(name, fc.nat(5)).map(([n, t]) => blob(n, `5dc-1-${t}`));
  it('nodup: no duplicate names, old list kept as the tail, idempotent', () => {
    fc.assert(
      fc.property(fc.array(set, { maxLength: 8 }), fc.array(set, { maxLength: 8 }), (oldRaw, posted) => {
        const old = mergeUrls(oldRaw, null, true).urls; // a tag built with nodup has unique names
        const m = mergeUrls(posted, old, true);
        const names = m.urls.map((s) => urlToName(s[0]));
        expect(new Set(names).size).toBe(names.length);
        expect(m.urls.slice(m.urls.length - old.length)).toEqual(old);
        const want = new Set([...old, ...posted].map((s) => urlToName(s[0])));
        expect(new Set(names)).toEqual(want);
        expect(mergeUrls(posted, m.urls, true).updated).toBe(false);
      }),
    );
  });

  it('nodup pushes one at a time: the tag lists first occurrences newest first (test_random)', () => {
    fc.assert(
      fc.property(fc.array(name, { maxLength: 30 }), (keys) => {
        let urls: string[][] | null = null;
        for (const k of keys) urls = mergeUrls([blob(k)], urls, true).urls;
        const firsts = [...new Set(keys)];
        expect((urls ?? []).map((s) => urlToName(s[0])).reverse()).toEqual(firsts);
      }),
    );
  });
});

describe('delayed buffering', () => {
  it('puts later requests first, as the original', () => {
    let b = bufferDelayed(undefined, [['1']]);
    b = bufferDelayed(b, [['2'], ['3']]);
    expect(b).toEqual([['2'], ['3'], ['1']]);
  });
});

describe('decide', () => {
  it('GET of a missing or deleted tag is not found, whatever the token', () => {
    for (const d of [missing, deleted])
      for (const token of [null, 'x'])
        expect(decide(d, { type: 'get', attrib: 'all', token }, V)).toEqual({
          type: 'error',
          error: 'notfound',
        });
  });

  it('GET returns the secure form, urls, tokens and attributes', () => {
    const d = ok({ urls: [['u']], user: [['a', 'v']], readToken: 'r' });
    expect(decide(d, { type: 'get', attrib: 'all', token: 'r' }, V)).toEqual({
      type: 'reply',
      body: encodeTagSecure(content({ urls: [['u']], user: [['a', 'v']], readToken: 'r' })),
    });
    expect(decide(d, { type: 'get', attrib: 'urls', token: 'r' }, V)).toEqual({
      type: 'reply',
      body: '[["u"]]',
    });
    expect(decide(d, { type: 'get', attrib: { user: 'a' }, token: 'r' }, V)).toEqual({
      type: 'reply',
      body: '"v"',
    });
    expect(decide(d, { type: 'get', attrib: { user: 'z' }, token: 'r' }, V)).toEqual({
      type: 'error',
      error: 'unknown_attribute',
    });
    expect(decide(d, { type: 'get', attrib: 'read-token', token: 'r' }, V)).toEqual({
      type: 'reply',
      body: '"r"',
    });
    expect(decide(d, { type: 'get', attrib: 'write-token', token: 'r' }, V)).toEqual({
      type: 'reply',
      body: 'null',
    });
    expect(decide(d, { type: 'get', attrib: 'all', token: null }, V)).toEqual({
      type: 'error',
      error: 'unauthorized',
    });
  });

  it('reading ddfs:write-token needs write privilege', () => {
    const d = ok({ writeToken: 'w' });
    expect(decide(d, { type: 'get', attrib: 'write-token', token: null }, V)).toEqual({
      type: 'error',
      error: 'unauthorized',
    });
    expect(decide(d, { type: 'get', attrib: 'write-token', token: 'w' }, V)).toEqual({
      type: 'reply',
      body: '"w"',
    });
  });

  it('creates a tag atomically with the creator token as read and write token', () => {
    for (const req of [
      { type: 'update' as const, urls: [['u']], nodup: true, token: 's1' },
      { type: 'put' as const, field: 'urls' as const, value: [], token: 's1' },
      { type: 'put' as const, field: { user: 'a' }, value: 'v', token: 's1' },
    ]) {
      const out = decide(missing, req, V);
      expect(out.type).toBe('write');
      if (out.type !== 'write') return;
      expect(out.content).toMatchObject({
        id: V.id,
        lastModified: V.lastModified,
        readToken: 's1',
        writeToken: 's1',
      });
      const after: TagData = { kind: 'ok', content: out.content };
      expect(decide(after, { type: 'get', attrib: { user: 'a' }, token: null }, V)).toMatchObject({
        error: 'unauthorized',
      });
    }
    const open = decide(missing, { type: 'put', field: 'urls', value: [], token: null }, V);
    expect(open).toMatchObject({ type: 'write', content: { readToken: null, writeToken: null } });
    const internal = decide(missing, { type: 'update', urls: [], nodup: false, token: INTERNAL }, V);
    expect(internal).toMatchObject({ type: 'write', content: { readToken: null, writeToken: null } });
  });

  it('a write to a deleted tag recreates it and asks to remove it from +deleted', () => {
    expect(decide(deleted, { type: 'update', urls: [['u']], nodup: false, token: null }, V)).toMatchObject({
      type: 'write',
      undelete: true,
      content: { urls: [['u']] },
    });
    expect(decide(missing, { type: 'update', urls: [['u']], nodup: false, token: null }, V)).toMatchObject({
      undelete: false,
    });
  });

  it('POST without change keeps the version (no garbage)', () => {
    const d = ok({ urls: [blob('a')] });
    expect(decide(d, { type: 'update', urls: [], nodup: false, token: null }, V)).toEqual({
      type: 'unchanged',
    });
    expect(decide(d, { type: 'update', urls: [blob('a', '5dc-7-7')], nodup: true, token: null }, V)).toEqual({
      type: 'unchanged',
    });
  });

  it('validates before authorizing PUT, authorizes before validating POST', () => {
    const d = ok({ writeToken: 'w' });
    expect(decide(d, { type: 'put', field: { user: 'a' }, value: 1, token: null }, V)).toMatchObject({
      error: 'invalid_attribute_value',
    });
    expect(decide(d, { type: 'put', field: 'read-token', value: null, token: 'w' }, V)).toMatchObject({
      error: 'invalid_attribute_value',
    });
    expect(decide(d, { type: 'put', field: 'urls', value: [['a', 1]], token: 'w' }, V)).toMatchObject({
      error: 'invalid_attribute_value',
    });
    expect(decide(d, { type: 'update', urls: 'x', nodup: false, token: null }, V)).toMatchObject({
      error: 'unauthorized',
    });
    expect(decide(d, { type: 'update', urls: 'x', nodup: false, token: 'w' }, V)).toMatchObject({
      error: 'invalid_url_object',
    });
    expect(decide(d, { type: 'update', urls: [['a'], 'b'], nodup: false, token: 'w' }, V)).toMatchObject({
      error: 'invalid_url_object',
    });
  });

  it('sets, replaces and deletes attributes and tokens', () => {
    let d = ok({ user: [['a', '1']] });
    const step = (req: Parameters<typeof decide>[1]) => {
      const out = decide(d, req, V);
      if (out.type !== 'write') throw new Error(JSON.stringify(out));
      d = { kind: 'ok', content: out.content };
      return out;
    };
    step({ type: 'put', field: { user: 'b' }, value: '2', token: null });
    step({ type: 'put', field: { user: 'a' }, value: '3', token: null });
    expect(d.kind === 'ok' && d.content.user).toEqual([
      ['a', '3'],
      ['b', '2'],
    ]);
    expect(step({ type: 'delete_attrib', field: { user: 'zz' }, token: null }).reply).toBe('deleted');
    step({ type: 'delete_attrib', field: { user: 'a' }, token: null });
    step({ type: 'put', field: 'write-token', value: 'w', token: null });
    expect(decide(d, { type: 'delete_attrib', field: 'write-token', token: null }, V)).toMatchObject({
      error: 'unauthorized',
    });
    step({ type: 'delete_attrib', field: 'write-token', token: 'w' });
    expect(d.kind === 'ok' && d.content).toMatchObject({ writeToken: null, user: [['b', '2']] });
    step({ type: 'put', field: 'urls', value: [['x']], token: null });
    step({ type: 'delete_attrib', field: 'urls', token: null });
    expect(d.kind === 'ok' && d.content.urls).toEqual([]);
    expect(decide(missing, { type: 'delete_attrib', field: { user: 'a' }, token: null }, V)).toMatchObject({
      error: 'unknown_attribute',
    });
  });

  it(`refuses more than ${MAX_ATTRIBUTES} attributes but allows replacing one`, () => {
    const user = Array.from({ length: MAX_ATTRIBUTES }, (_, i) => [`k${i}`, 'v'] as [string, string]);
    const d = ok({ user });
    expect(decide(d, { type: 'put', field: { user: 'new' }, value: 'v', token: null }, V)).toMatchObject({
      error: 'too_many_attributes',
    });
    expect(decide(d, { type: 'put', field: { user: 'k1' }, value: 'w', token: null }, V).type).toBe('write');
  });

  it('DELETE is authorized against the tag tokens, and always allowed on missing or unreadable tags', () => {
    expect(decide(ok({ writeToken: 'w' }), { type: 'delete', token: null }, V)).toMatchObject({
      error: 'unauthorized',
    });
    expect(decide(ok({ writeToken: 'w' }), { type: 'delete', token: 'w' }, V)).toEqual({ type: 'delete' });
    expect(decide(missing, { type: 'delete', token: 'x' }, V)).toEqual({ type: 'delete' });
    const broken: TagData = { kind: 'error', error: 'corrupt' };
    expect(decide(broken, { type: 'delete', token: null }, V)).toEqual({ type: 'delete' });
    expect(decide(broken, { type: 'get', attrib: 'all', token: null }, V)).toEqual({
      type: 'error',
      error: { internal: 'corrupt' },
    });
    expect(decide(broken, { type: 'update', urls: [], nodup: false, token: null }, V).type).toBe('error');
  });

  it('never lets an unauthorized caller change a tag (property)', () => {
    const tok = fc.option(fc.constantFrom('', 'a', 'b'), { nil: null });
    const field = fc.constantFrom<Parameters<typeof decide>[1] & { type: 'put' }>(
      { type: 'put', field: 'urls', value: [], token: null },
      { type: 'put', field: 'read-token', value: 'n', token: null },
      { type: 'put', field: { user: 'k' }, value: 'v', token: null },
    );
    fc.assert(
      fc.property(tok, tok, tok, field, fc.boolean(), (rt, wt, t, req, viaPost) => {
        const d = ok({ readToken: rt, writeToken: wt });
        const r = viaPost
          ? ({ type: 'update', urls: [['u']], nodup: false, token: t } as const)
          : { ...req, token: t };
        const out = decide(d, r, V);
        const mayWrite = wt === null || t === wt;
        expect(out.type === 'write').toBe(mayWrite);
        if (out.type === 'write' && !(r.type === 'put' && r.field === 'read-token'))
          expect([out.content.readToken, out.content.writeToken]).toEqual([rt, wt]);
      }),
    );
  });
});

describe('tag objects', () => {
  it('encodes in the original key order and round-trips', () => {
    const c = content({
      urls: [['u1', 'u2']],
      user: [
        ['2', 'b'],
        ['1', 'a'],
      ],
      writeToken: 'w',
    });
    expect(encodeTag(c)).toBe(
      '{"version":1,"id":"t$5dc-1-1","last-modified":"2024/01/01 00:00:00","read-token":null,' +
        '"write-token":"w","urls":[["u1","u2"]],"user-data":{"2":"b","1":"a"}}',
    );
    expect(encodeTagSecure(c)).not.toContain('token');
    expect(decodeTag(encodeTag(content()))).toEqual(content());
    expect(decodeTag('not json')).toBeNull();
    expect(decodeTag('{"id":"x"}')).toBeNull();
    expect(decodeTag('{"id":"x","urls":[],"last-modified":"t"}')).toEqual({
      id: 'x',
      lastModified: 't',
      readToken: null,
      writeToken: null,
      urls: [],
      user: [],
    });
  });

  it('round-trips arbitrary content (property)', () => {
    const s = fc.string({ maxLength: 8 });
    fc.assert(
      fc.property(
        fc.array(fc.array(s, { maxLength: 3 }), { maxLength: 4 }),
        fc.option(s, { nil: null }),
        fc.option(s, { nil: null }),
        fc.uniqueArray(
          fc.tuple(
            s.filter((k) => !/^\d+$/.test(k)),
            s,
          ),
          { selector: (x) => x[0], maxLength: 4 },
        ),
        (urls, readToken, writeToken, user) => {
          const c = content({ urls, readToken, writeToken, user });
          expect(decodeTag(encodeTag(c))).toEqual(c);
        },
      ),
    );
  });
});

describe('urlToName', () => {
  it.each([
    ['tag://data:x', 'data:x'],
    ['disco://node1/ddfs/vol0/blob/ab/prefix$5dc-1-2', 'prefix'],
    ['http://node1:8989/ddfs/vol0/blob/ab/pre:fix@x$5dc-1-2', 'pre:fix@x'],
    ['urls', null],
    ['disco://node1/ddfs/vol0/blob/ab/noversion', null],
  ])('%s → %s', (url, name) => {
    expect(urlToName(url)).toBe(name);
  });
});
