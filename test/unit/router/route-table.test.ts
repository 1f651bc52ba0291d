import * as assert from 'node:assert/strict';
import { request, routesYaml, tableFromYaml } from './route-yaml';

describe('RouteTable: virtual host selection (Envoy findVirtualHost)', () => {
  const table = tableFromYaml(`
name: rc
virtual_hosts:
- { name: exact, domains: ["api.foo.com", "api.foo.com:8080", "[::1]:80"], routes: [{ match: { prefix: "/" }, direct_response: { status: 200 } }] }
- { name: suffix-short, domains: ["*.foo.com"], routes: [{ match: { prefix: "/" }, direct_response: { status: 200 } }] }
- { name: suffix-long, domains: ["*-bar.foo.com"], routes: [{ match: { prefix: "/" }, direct_response: { status: 200 } }] }
- { name: prefix-short, domains: ["foo.*"], routes: [{ match: { prefix: "/" }, direct_response: { status: 200 } }] }
- { name: prefix-long, domains: ["foo.bar.*"], routes: [{ match: { prefix: "/" }, direct_response: { status: 200 } }] }
- { name: any, domains: ["*"], routes: [{ match: { prefix: "/" }, direct_response: { status: 200 } }] }
`);
  const cases: [string, string][] = [
    ['api.foo.com', 'exact'],
    ['API.Foo.COM', 'exact'],
    ['api.foo.com:8080', 'exact'],
    // Envoy matches the authority as received: the port is part of it, and there is no retry without it.
    ['api.foo.com:9090', 'any'],
    ['x.foo.com', 'suffix-short'],
    ['x-bar.foo.com', 'suffix-long'],
    ['-bar.foo.com', 'suffix-short'],
    // "*.foo.com" needs at least one character before the suffix.
    ['.foo.com', 'any'],
    ['foo.com', 'prefix-short'],
    ['foo.bar.baz', 'prefix-long'],
    ['foo.bar.', 'prefix-short'],
    ['foo.com:80', 'prefix-short'],
    ['[::1]:80', 'exact'],
    ['other.org', 'any'],
    ['', 'any'],
  ];
  for (const [authority, vh] of cases) {
    it(`${JSON.stringify(authority)} -> ${vh}`, () => assert.equal(table.match(request({ authority }))?.virtualHost.name, vh));
  }

  it('without a "*" virtual host an unknown authority has no route (404 NR)', () => {
    const t = tableFromYaml(`{ name: rc, virtual_hosts: [{ name: a, domains: ["a.com"], routes: [{ match: { prefix: "/" }, direct_response: { status: 200 } }] }] }`);
    assert.equal(t.match(request({ authority: 'a.com:80' })), undefined);
    assert.equal(t.match(request({ authority: 'a.com' }))?.virtualHost.name, 'a');
  });

  it('ignorePortInHostMatching strips the port (IPv6 aware) before matching', () => {
    const yaml = `{ name: rc, virtual_hosts: [{ name: a, domains: ["a.com", "[::1]"], routes: [{ match: { prefix: "/" }, direct_response: { status: 200 } }] }] }`;
    const t = tableFromYaml(yaml, { ignorePortInHostMatching: true });
    assert.equal(t.match(request({ authority: 'a.com:8080' }))?.virtualHost.name, 'a');
    assert.equal(t.match(request({ authority: '[::1]:443' }))?.virtualHost.name, 'a');
    assert.equal(t.match(request({ authority: '[::1]' }))?.virtualHost.name, 'a');
  });
});

describe('RouteTable: path matching', () => {
  const table = tableFromYaml(
    routesYaml(`
  - { name: exact, match: { path: "/exact" }, direct_response: { status: 200 } }
  - { name: exact-ci, match: { path: "/CI/Exact", case_sensitive: false }, direct_response: { status: 200 } }
  - { name: regex, match: { safe_regex: { regex: "/v[0-9]+/items" } }, direct_response: { status: 200 } }
  - { name: sep, match: { path_separated_prefix: "/api" }, direct_response: { status: 200 } }
  - { name: prefix-ci, match: { prefix: "/Upper", case_sensitive: false }, direct_response: { status: 200 } }
  - { name: prefix, match: { prefix: "/p" }, direct_response: { status: 200 } }
  - { name: fallback, match: { prefix: "/" }, direct_response: { status: 404 } }
`),
  );
  const cases: [string, string][] = [
    ['/exact', 'exact'],
    ['/exact?x=1', 'exact'],
    ['/exact#frag', 'exact'],
    ['/exact/', 'fallback'],
    ['/Exact', 'fallback'],
    ['/ci/exact', 'exact-ci'],
    ['/CI/EXACT?q', 'exact-ci'],
    ['/v12/items', 'regex'],
    ['/v12/items?page=2', 'regex'],
    // safe_regex is a full match.
    ['/v12/items/3', 'fallback'],
    ['/x/v1/items', 'fallback'],
    ['/api', 'sep'],
    ['/api/x', 'sep'],
    ['/api?x', 'sep'],
    ['/apix', 'fallback'],
    ['/upper/x', 'prefix-ci'],
    ['/UPPERCASE', 'prefix-ci'],
    ['/pq', 'prefix'],
    ['/P', 'fallback'],
  ];
  for (const [path, name] of cases) it(`${path} -> ${name}`, () => assert.equal(table.match(request({ path }))?.route.name, name));

  it('routes are tried in order: the first match wins', () => {
    const t = tableFromYaml(routesYaml(`
  - { name: first, match: { prefix: "/a" }, direct_response: { status: 200 } }
  - { name: second, match: { path: "/a/b" }, direct_response: { status: 200 } }
`));
    assert.equal(t.match(request({ path: '/a/b' }))?.route.name, 'first');
    assert.equal(t.match(request({ path: '/b' })), undefined);
  });
});

describe('RouteTable: header, query parameter, grpc and runtime_fraction matching', () => {
  it('header matchers (every kind, invert, present, missing-as-empty, multiple values joined with ",")', () => {
    type Case = [string, Record<string, string | string[]>, boolean];
    const table: [string, Case[]][] = [
      ['{ name: x, exact_match: "a" }', [['', { x: 'a' }, true], ['', { x: 'b' }, false], ['', {}, false], ['', { x: ['a', 'b'] }, false]]],
      ['{ name: x, string_match: { exact: "a,b" } }', [['joined', { x: ['a', 'b'] }, true]]],
      ['{ name: x, string_match: { exact: "AbC", ignore_case: true } }', [['', { x: 'abc' }, true], ['', { x: 'abd' }, false]]],
      ['{ name: x, prefix_match: "ab" }', [['', { x: 'abc' }, true], ['', { x: 'xab' }, false]]],
      ['{ name: x, suffix_match: "bc" }', [['', { x: 'abc' }, true], ['', { x: 'bca' }, false]]],
      ['{ name: x, contains_match: "b" }', [['', { x: 'abc' }, true], ['', { x: 'ac' }, false]]],
      ['{ name: x, safe_regex_match: { regex: "[0-9]+" } }', [['', { x: '123' }, true], ['full match', { x: '12a' }, false]]],
      ['{ name: x, string_match: { safe_regex: { regex: "a.c" } } }', [['', { x: 'abc' }, true], ['', { x: 'abcd' }, false]]],
      ['{ name: x, range_match: { start: 10, end: 20 } }', [['', { x: '10' }, true], ['end exclusive', { x: '20' }, false], ['', { x: '-5' }, false], ['not an int', { x: '15a' }, false], ['', {}, false]]],
      ['{ name: x, present_match: true }', [['', { x: '' }, true], ['', {}, false]]],
      ['{ name: x, present_match: false }', [['', { x: 'v' }, false], ['', {}, true]]],
      ['{ name: x }', [['no specifier = present', { x: 'v' }, true], ['', {}, false]]],
      ['{ name: x, present_match: true, invert_match: true }', [['', { x: 'v' }, false], ['', {}, true]]],
      // Envoy: an inverted value matcher does not match an absent header.
      ['{ name: x, exact_match: "a", invert_match: true }', [['', { x: 'b' }, true], ['', { x: 'a' }, false], ['absent', {}, false]]],
      ['{ name: x, string_match: { exact: "" }, treat_missing_header_as_empty: true }', [['absent = ""', {}, true], ['', { x: 'v' }, false]]],
      ['{ name: x, string_match: { exact: "a" }, invert_match: true, treat_missing_header_as_empty: true }', [['absent', {}, true]]],
      ['{ name: ":method", string_match: { exact: "POST" } }', [['pseudo-header', {}, false]]],
    ];
    for (const [matcher, cases] of table) {
      const t = tableFromYaml(routesYaml(`  - { match: { prefix: "/", headers: [${matcher}] }, direct_response: { status: 200 } }`));
      for (const [label, headers, expected] of cases) {
        assert.equal(t.match(request({ headers })) !== undefined, expected, `${matcher} ${JSON.stringify(headers)} ${label}`);
      }
    }
  });

  it('pseudo-headers :method, :authority, :path, :scheme come from the request', () => {
    const t = tableFromYaml(routesYaml(`  - match: { prefix: "/", headers: [{ name: ":method", exact_match: "POST" }, { name: ":authority", prefix_match: "a." }, { name: ":path", suffix_match: "?q" }, { name: ":scheme", exact_match: "https" }] }
    direct_response: { status: 200 }`));
    assert.ok(t.match(request({ method: 'POST', authority: 'a.b', path: '/x?q', scheme: 'https' })));
    assert.ok(t.match(request({ method: 'POST', authority: 'a.b', path: '/x?q', headers: { 'x-forwarded-proto': 'https' } })));
    assert.equal(t.match(request({ method: 'GET', authority: 'a.b', path: '/x?q', scheme: 'https' })), undefined);
  });

  it('query parameter matchers: first value, raw (not decoded), present', () => {
    const t = tableFromYaml(routesYaml(`  - match: { prefix: "/", query_parameters: [{ name: "a", string_match: { exact: "1" } }, { name: "flag", present_match: true }] }
    direct_response: { status: 200 }`));
    const cases: [string, boolean][] = [
      ['/?a=1&flag', true],
      ['/?flag=&a=1', true],
      ['/?a=1', false],
      ['/?a=2&a=1&flag', false],
      ['/?a=1&a=2&flag', true],
      ['/?a=%31&flag', false],
      ['/', false],
    ];
    for (const [path, expected] of cases) assert.equal(t.match(request({ path })) !== undefined, expected, path);
  });

  it('grpc: {} matches only gRPC requests', () => {
    const t = tableFromYaml(routesYaml(`
  - { name: grpc, match: { prefix: "/", grpc: {} }, direct_response: { status: 200 } }
  - { name: other, match: { prefix: "/" }, direct_response: { status: 200 } }`));
    assert.equal(t.match(request({ headers: { 'content-type': 'application/grpc+proto' } }))?.route.name, 'grpc');
    assert.equal(t.match(request({ headers: { 'content-type': 'application/json' } }))?.route.name, 'other');
  });

  it('runtime_fraction uses the default value with one injected random per lookup', () => {
    const yaml = routesYaml(`
  - { name: canary, match: { prefix: "/", runtime_fraction: { default_value: { numerator: 25, denominator: HUNDRED } } }, direct_response: { status: 200 } }
  - { name: stable, match: { prefix: "/" }, direct_response: { status: 200 } }`);
    const at = (r: number) => tableFromYaml(yaml, { random: () => r }).match(request())?.route.name;
    assert.equal(at(0), 'canary');
    assert.equal(at(0.2499), 'canary');
    assert.equal(at(0.25), 'stable');
    assert.equal(at(0.99), 'stable');
    let draws = 0;
    const t = tableFromYaml(yaml, { random: () => (draws++, 0.5) });
    t.match(request());
    t.match(request());
    assert.equal(draws, 2);
  });
});
