/**
 * Live notifications while the app is open: GET /api/events (server-sent events) read with fetch,
 * since EventSource cannot send the bearer token. Each `notification` goes straight into the inbox
 * table; the stream is closed while the app is in the background and reopened when it comes back.
 */
import { db } from '../core/db'
import { api, session } from '../core/session'
import { touch } from '../sync/store'
import { inboxRow } from '../sync/pull'

let controller: AbortController | null = null
let lastId = ''
let failures = 0
let timer: ReturnType<typeof setTimeout> | null = null

export interface SseMessage {
  event: string
  data: string
  id: string
}

/** Splits a chunk of an event stream into messages; returns the unfinished tail. */
export function parseSse(buffer: string, onMessage: (m: SseMessage) => void): string {
  const blocks = buffer.split(/\r?\n\r?\n/)
  const tail = blocks.pop() ?? ''
  for (const block of blocks) {
    const m: SseMessage = { event: 'message', data: '', id: '' }
    const data: string[] = []
    for (const line of block.split(/\r?\n/)) {
      if (!line || line.startsWith(':')) continue
      const i = line.indexOf(':')
      const field = i < 0 ? line : line.slice(0, i)
      const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '')
      if (field === 'event') m.event = value
      else if (field === 'data') data.push(value)
      else if (field === 'id') m.id = value
    }
    m.data = data.join('\n')
    if (m.data || m.event !== 'message') onMessage(m)
  }
  return tail
}

/** Reads an event stream to its end, handing each message over (also used by the map's live layer). */
export async function readEventStream(res: Response, onMessage: (m: SseMessage) => void): Promise<void> {
  if (!res.ok || !res.body) throw new Error(`events ${res.status}`)
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
  let buffer = ''
  for (;;) {
    const { value, done } = await reader.read()
    if (done) return
    buffer = parseSse(buffer + value, onMessage)
  }
}

async function run(signal: AbortSignal): Promise<void> {
  const headers: Record<string, string> = { Accept: 'text/event-stream' }
  if (lastId) headers['Last-Event-ID'] = lastId
  const res = await api.raw('GET', '/events', { headers, signal })
  if (res.ok && res.body) failures = 0
  await readEventStream(res, (m) => {
    if (m.id) lastId = m.id
    if (m.event !== 'notification') return
    try {
      void db.inbox.put(inboxRow(JSON.parse(m.data))).then(touch)
    } catch {
      /* a malformed message: the next pull brings the row anyway */
    }
  })
}

function wanted(): boolean {
  return !!session.user && session.online && document.visibilityState === 'visible'
}

export function connectLive(): void {
  if (controller || !wanted()) return
  const c = new AbortController()
  controller = c
  run(c.signal)
    .catch(() => {
      failures++
    })
    .finally(() => {
      if (controller === c) controller = null
      if (timer) clearTimeout(timer)
      if (!c.signal.aborted) timer = setTimeout(connectLive, Math.min(60_000, 2_000 * 2 ** Math.min(failures, 5)))
    })
}

export function disconnectLive(): void {
  controller?.abort()
  controller = null
}

let started = false
export function startLive(): void {
  if (started || typeof window === 'undefined' || typeof TextDecoderStream === 'undefined') return
  started = true
  document.addEventListener('visibilitychange', () => (document.visibilityState === 'visible' ? connectLive() : disconnectLive()))
  window.addEventListener('online', connectLive)
  window.addEventListener('offline', disconnectLive)
  connectLive()
}
