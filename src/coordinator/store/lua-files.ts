import { readFileSync } from 'node:fs'

/**
 * The .lua files under lua/, read at run time from beside this module: src/
 * when tests run the sources, dist/ and dist-bench/ where the build copies
 * the folder beside tsc's output, and beside the daemon bundle (which runs
 * this code from dist/daemon/). rolldown.config.mjs and package.json's
 * bench:build make those copies; one way for every runner, no text inlined.
 */
const LUA_DIR = new URL('./lua/', import.meta.url)

const INCLUDE = /^--- @include "([^"]+)"[ \t]*\r?\n?/gm

const files = new Map<string, string>()

/** A file's text by its path under lua/ without .lua ("tasks/submit"), read once. */
function read(path: string): string {
  let text = files.get(path)
  if (text === undefined) {
    text = readFileSync(new URL(`${path}.lua`, LUA_DIR), 'utf8')
    files.set(path, text)
  }
  return text
}

/** A script: the include files it needs, each once and before what uses it, and its own text without the include lines. */
export interface LuaScript {
  includes: string[]
  body: string
}

/**
 * Reads a script and resolves its `--- @include "path"` lines (BullMQ's
 * form): included files may include others; each is taken once, in the order
 * first needed, so helpers such as now_ms are written once.
 */
export function readScript(path: string): LuaScript {
  const includes: string[] = []
  const seen = new Set<string>()
  const visit = (name: string, stack: string[]): void => {
    if (seen.has(name)) return
    if (stack.includes(name)) throw new Error(`lua include cycle: ${[...stack, name].join(' -> ')}`)
    for (const dep of includesOf(read(name))) visit(dep, [...stack, name])
    seen.add(name)
    includes.push(name)
  }
  const text = read(path)
  for (const dep of includesOf(text)) visit(dep, [path])
  return { includes, body: withoutIncludes(text) }
}

/** An include file's text without its include lines. */
export function includeText(path: string): string {
  return withoutIncludes(read(path))
}

function includesOf(text: string): string[] {
  return [...text.matchAll(INCLUDE)].map((m) => m[1]!)
}

function withoutIncludes(text: string): string {
  return text.replace(INCLUDE, '')
}
