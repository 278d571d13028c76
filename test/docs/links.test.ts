import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'

// The docs are read in a clone: a link must resolve inside the repository,
// never into the workspace around it (a clone has no ../shared).
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const README_MAX_LINES = 300

/** README.md and every docs/*.md of a tree, as paths relative to its root. */
function docFiles(root: string): string[] {
  const docs = existsSync(join(root, 'docs'))
    ? readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)
    : []
  return ['README.md', ...docs.sort()]
}

/** The text outside fenced code blocks, one entry per line (fenced lines blanked). */
function proseLines(text: string): string[] {
  let fence: string | null = null
  return text.split('\n').map((line) => {
    const open = /^\s*(```+|~~~+)/.exec(line)
    if (open?.[1] !== undefined) {
      if (fence === null) fence = open[1]
      else if (open[1].startsWith(fence)) fence = null
      return ''
    }
    return fence === null ? line : ''
  })
}

/** GitHub's heading anchor: lowercase, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchors(text: string): Set<string> {
  const seen = new Map<string, number>()
  const out = new Set<string>()
  for (const line of proseLines(text)) {
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)
    if (m?.[1] === undefined) continue
    const plain = m[1].replace(/`/g, '').replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    const base = plain.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-')
    const n = seen.get(base) ?? 0
    seen.set(base, n + 1)
    out.add(n === 0 ? base : `${base}-${n}`)
  }
  return out
}

/** Link targets in prose: inline links and reference definitions, inline code left out. */
function linkTargets(text: string): string[] {
  const targets: string[] = []
  for (const raw of proseLines(text)) {
    const line = raw.replace(/`[^`]*`/g, '')
    for (const m of line.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) if (m[1]) targets.push(m[1])
    const def = /^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/.exec(line)
    if (def?.[1]) targets.push(def[1])
  }
  return targets
}

/** Every problem with the links of the docs under root, as "file: target: why". */
function checkDocs(root: string): string[] {
  const problems: string[] = []
  const texts = new Map<string, string>()
  const read = (file: string): string => {
    let text = texts.get(file)
    if (text === undefined) {
      text = readFileSync(join(root, file), 'utf8')
      texts.set(file, text)
    }
    return text
  }
  for (const file of docFiles(root)) {
    const text = read(file)
    if (text.includes('../shared')) problems.push(`${file}: mentions ../shared, which a clone does not have`)
    for (const target of linkTargets(text)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) {
        if (/^file:/i.test(target)) problems.push(`${file}: ${target}: a file: link points outside the repository`)
        continue
      }
      const [pathPart = '', anchor] = target.split('#', 2)
      const path = decodeURIComponent(pathPart)
      if (path.startsWith('/')) {
        problems.push(`${file}: ${target}: absolute path; use a path relative to the file`)
        continue
      }
      const abs = path === '' ? join(root, file) : resolve(root, dirname(file), path)
      const inRepo = relative(root, abs)
      if (inRepo.startsWith(`..${sep}`) || inRepo === '..') {
        problems.push(`${file}: ${target}: points outside the repository`)
        continue
      }
      if (!existsSync(abs)) {
        problems.push(`${file}: ${target}: no such file`)
        continue
      }
      if (anchor === undefined || anchor === '') continue
      if (!inRepo.endsWith('.md') || statSync(abs).isDirectory()) continue
      if (!anchors(read(inRepo.split(sep).join('/'))).has(anchor)) problems.push(`${file}: ${target}: no heading #${anchor}`)
    }
  }
  return problems
}

t.test('every relative link in README.md and docs/ resolves in a clone', async (t) => {
  t.ok(existsSync(join(repoRoot, 'docs')), 'docs/ exists')
  t.ok(docFiles(repoRoot).length > 1, 'docs/ holds markdown files')
  const links = docFiles(repoRoot).flatMap((f) => linkTargets(readFileSync(join(repoRoot, f), 'utf8')))
  t.ok(links.filter((l) => !/^[a-z]+:/i.test(l)).length > 20, `the checker sees the relative links (${links.length} links)`)
  t.same(checkDocs(repoRoot), [])
})

t.test(`README.md is at most ${README_MAX_LINES} lines`, async (t) => {
  const lines = readFileSync(join(repoRoot, 'README.md'), 'utf8').replace(/\n$/, '').split('\n').length
  t.ok(lines <= README_MAX_LINES, `README.md has ${lines} lines`)
})

t.test('the checker finds each kind of broken link in a scratch tree', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'aitbc-docs-'))
  t.teardown(() => rmSync(root, { recursive: true, force: true }))
  mkdirSync(join(root, 'docs'))
  writeFileSync(join(root, 'docs', 'a.md'), '# Title\n\n## Second `part`: here\n\n```sh\n# not a heading\n[x](missing-in-code.md)\n```\n')
  writeFileSync(join(root, 'README.md'), [
    '# Readme',
    '[ok](docs/a.md) [ok anchor](docs/a.md#second-part-here) [self](#readme) [web](https://example.org/x)',
    '[broken](docs/b.md) [bad anchor](docs/a.md#not-a-heading) [up](../outside.md) [abs](/etc/passwd)',
    'See ../shared/DESIGN.md. `[in code](nope.md)`',
    '',
  ].join('\n'))
  const problems = checkDocs(root)
  t.same(problems, [
    'README.md: mentions ../shared, which a clone does not have',
    'README.md: docs/b.md: no such file',
    'README.md: docs/a.md#not-a-heading: no heading #not-a-heading',
    'README.md: ../outside.md: points outside the repository',
    'README.md: /etc/passwd: absolute path; use a path relative to the file',
  ])
  t.same([...anchors(readFileSync(join(root, 'docs', 'a.md'), 'utf8'))], ['title', 'second-part-here'])
})
