import { describe, expect, it } from 'vitest'
import { parseSse, type SseMessage } from './live'

describe('server-sent events', () => {
  it('parses events split across chunks, skipping comments', () => {
    const got: SseMessage[] = []
    let tail = parseSse('event: ready\ndata: {"unread": 2}\nretry: 5000\n\n: keep-alive\n\nevent: notifi', (m) => got.push(m))
    tail = parseSse(tail + 'cation\nid: 17\ndata: {"id": 17,\ndata: "title": "今日回访"}\n\n', (m) => got.push(m))
    expect(tail).toBe('')
    expect(got).toEqual([
      { event: 'ready', data: '{"unread": 2}', id: '' },
      { event: 'notification', data: '{"id": 17,\n"title": "今日回访"}', id: '17' },
    ])
  })
})
