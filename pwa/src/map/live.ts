/**
 * Live case changes for the map: GET /api/map/events read with fetch (EventSource cannot send the
 * bearer token), reconnecting with backoff while the map is open. Each `case` event carries one row
 * in the same compact form as GET /api/map/cases; `gone` names a case that left the user's area (or
 * was merged), whose marker must go. Event ids are change ids: a reconnect sends Last-Event-ID and
 * gets what it missed.
 */
import { api } from '../core/session'
import { readEventStream } from '../notify/live'
import { decodeRows, MAP_FIELDS, type MapCase } from './api'

export interface CaseEvent {
  action: string
  case: MapCase
}

export interface LiveHandle {
  close(): void
}

export interface LiveHandlers {
  onCase: (e: CaseEvent) => void
  onGone: (id: string) => void
  onState?: (connected: boolean) => void
}

export function watchMapEvents({ onCase, onGone, onState }: LiveHandlers): LiveHandle {
  let controller: AbortController | null = null
  let lastId = ''
  let closed = false
  let failures = 0
  let timer: ReturnType<typeof setTimeout> | null = null

  async function run(signal: AbortSignal): Promise<void> {
    const headers: Record<string, string> = { Accept: 'text/event-stream' }
    if (lastId) headers['Last-Event-ID'] = lastId
    const res = await api.raw('GET', '/map/events', { headers, signal })
    await readEventStream(res, (m) => {
      if (m.id) lastId = m.id
      if (m.event === 'ready') {
        failures = 0
        onState?.(true)
        return
      }
      try {
        if (m.event === 'gone') {
          const data = JSON.parse(m.data) as { case: string }
          if (data.case) onGone(String(data.case))
        } else if (m.event === 'case') {
          const data = JSON.parse(m.data) as { action: string; row: unknown[]; fields?: string[] }
          const [c] = decodeRows(data.fields ?? MAP_FIELDS, [data.row])
          if (c) onCase({ action: data.action, case: c })
        }
      } catch {
        /* a malformed message: the next load brings the row anyway */
      }
    })
  }

  function connect(): void {
    if (closed || controller) return
    if (document.visibilityState !== 'visible') return
    const c = new AbortController()
    controller = c
    run(c.signal)
      .catch(() => {
        failures++
      })
      .finally(() => {
        if (controller === c) controller = null
        onState?.(false)
        if (timer) clearTimeout(timer)
        if (!closed && !c.signal.aborted) timer = setTimeout(connect, Math.min(30_000, 1_000 * 2 ** Math.min(failures, 5)))
      })
  }

  function onVisibility(): void {
    if (document.visibilityState === 'visible') connect()
    else {
      controller?.abort()
      controller = null
    }
  }

  document.addEventListener('visibilitychange', onVisibility)
  window.addEventListener('online', connect)
  connect()
  return {
    close() {
      closed = true
      if (timer) clearTimeout(timer)
      controller?.abort()
      controller = null
      document.removeEventListener('visibilitychange', onVisibility)
      window.removeEventListener('online', connect)
    },
  }
}
