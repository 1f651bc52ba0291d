// Response helpers shared by admin endpoints: plain text and JSON (Maps and Sets serialised), never cached.

import type * as http from 'node:http';

/** A plain-text response (shared by admin endpoints). */
export function sendText(res: http.ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
  res.end(body);
}

/** A JSON response; Maps and Sets are serialised as objects and arrays (shared by admin endpoints). */
export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(`${JSON.stringify(body, jsonReplacer, 2)}\n`);
}

/** Maps and Sets (domain config uses them) become objects and arrays. */
function jsonReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Map) return Object.fromEntries(value);
  if (value instanceof Set) return [...value];
  if (typeof value === 'bigint') return value.toString();
  return value;
}
