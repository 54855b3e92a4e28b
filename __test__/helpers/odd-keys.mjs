// Ids and type names with characters that break naive storage (path separators, '..',
// NUL, colons, Unicode that normalizes alike, a maximal length), and 10 MB values: the
// cases bad-input.test.mjs writes and then reads back, in the same process and in a new one
// (helpers/odd-keys-child.mjs). Deterministic: both processes build the same list.
import { bytesOf } from './signal-shapes.mjs'

export const ODD_IDS = [
  'a/b',
  '/etc/passwd',
  '../../../../etc/shadow',
  '..',
  '.',
  'C:\\Windows\\win.ini',
  '5511999999999:12@s.whatsapp.net',
  '120363025246125486@g.us::5511999999999::0',
  'nul\u0000inside',
  '\u0000',
  ' ',
  '',
  'é', // precomposed
  'e\u0301', // the same letter, decomposed: a different id
  'A',
  'a',
  '日本語のID',
  '🎉👩‍👩‍👧',
  '\u202eRTL override',
  'quote " backslash \\ newline \n tab \t',
  '\u2028\u2029',
  '__proto__',
  'constructor',
  'é'.repeat(2048), // 4096 bytes of UTF-8: the longest id accepted
  'x'.repeat(4096),
]

export const ODD_TYPES = ['pre-key', 'type/with/slashes', 'type:..:\u0000', '日本語', '__proto__']

const MB = 1024 * 1024

/** Every [type, id, value] the test stores. */
export function oddCases() {
  const cases = []
  for (const type of ODD_TYPES) {
    for (const [i, id] of ODD_IDS.entries()) cases.push([type, id, { type, i, key: bytesOf(32, type, i) }])
  }
  cases.push(['big', 'ten-megabyte-buffer', bytesOf(10 * MB, 'buffer')])
  cases.push(['big', 'ten-megabyte-string', bytesOf(5 * MB, 'string').toString('hex')])
  // Base64 text is stored as its bytes: a large one must come back as the very same text.
  cases.push(['big', 'ten-megabyte-base64', bytesOf(7.5 * MB, 'base64').toString('base64')])
  cases.push([
    'big',
    'ten-megabyte-object',
    Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`k${i}`, { i, pub: bytesOf(480, 'obj', i) }])),
  ])
  return cases
}

/** Sets an own property, even one named __proto__ (an assignment would set the prototype). */
export function put(obj, key, value) {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true })
  return obj
}

/** oddCases() as keys.set data. */
export function oddData(cases = oddCases()) {
  const data = {}
  for (const [type, id, value] of cases) {
    if (!Object.hasOwn(data, type)) put(data, type, {})
    put(data[type], id, value)
  }
  return data
}
