import 'fake-indexeddb/auto'
import { describe, expect, it } from 'vitest'
import { countdownText, decodeRows } from './api'
import { classBreaks, colorFor, levelForZoom, CLASS_COLORS, ZERO_COLOR } from './scale'

describe('map rows', () => {
  it('decodes compact rows by the fields the server names, in any order', () => {
    const rows = decodeRows(
      ['lat', 'lon', 'id', 'state', 'category', 'level', 'overdue', 'conflict', 'number', 'title', 'extra'],
      [[24.8, 99.6, 'a1', 'reported', 'neighbour', 'big', 1, 0, 'N-1', '邻里纠纷', 'x']],
    )
    expect(rows).toEqual([
      { id: 'a1', lon: 99.6, lat: 24.8, state: 'reported', category: 'neighbour', level: 'big', overdue: true, conflict: false, number: 'N-1', title: '邻里纠纷', risk: 'green', days_left: null, deadline_colour: null, leader: null },
    ])
  })

  it('reads the countdown and says it in words', () => {
    const fields = ['id', 'lon', 'lat', 'state', 'category', 'level', 'overdue', 'conflict', 'number', 'title', 'risk', 'days_left', 'deadline_colour']
    const [late, near] = decodeRows(fields, [
      ['a1', 99.6, 24.8, 'mediating', 'labour', 'hard', 1, 0, 'N-3', '逾期', 'green', -3, 'red'],
      ['a2', 99.6, 24.8, 'mediating', 'labour', 'hard', 0, 0, 'N-4', '将到期', 'green', 5, 'yellow'],
    ])
    expect([late.days_left, late.deadline_colour, near.days_left, near.deadline_colour]).toEqual([-3, 'red', 5, 'yellow'])
    expect([countdownText('red', -3), countdownText('red', 0), countdownText('yellow', 0), countdownText('yellow', 5), countdownText(null, null)]).toEqual([
      '逾期 3 天',
      '已逾期',
      '今日到期',
      '剩 5 天',
      '',
    ])
  })

  it('reads the leader in charge (包案), null when there is none', () => {
    const fields = ['id', 'lon', 'lat', 'state', 'category', 'level', 'overdue', 'conflict', 'leader']
    const [mine, none] = decodeRows(fields, [
      ['a1', 99.6, 24.8, 'mediating', 'labour', 'hard', 0, 0, 17],
      ['a2', 99.6, 24.8, 'mediating', 'labour', 'hard', 0, 0, null],
    ])
    expect([mine.leader, none.leader]).toEqual([17, null])
  })

  it('reads the risk layer when the server names it', () => {
    const [row] = decodeRows(['id', 'lon', 'lat', 'state', 'category', 'level', 'overdue', 'conflict', 'number', 'title', 'risk'], [['a1', 99.6, 24.8, 'mediating', 'labour', 'hard', 0, 0, 'N-2', '讨薪', 'red']])
    expect(row.risk).toBe('red')
  })
})

describe('choropleth scale', () => {
  it('follows the zoom: township, village, grid', () => {
    expect([9, 10.9, 11, 12.5, 13, 16].map(levelForZoom)).toEqual(['township', 'township', 'village', 'village', 'grid', 'grid'])
  })

  it('keeps zero white and puts the maximum in the darkest class', () => {
    const breaks = classBreaks(50)
    expect(breaks).toEqual([10, 20, 30, 40, 50])
    expect(colorFor(0, breaks)).toBe(ZERO_COLOR)
    expect(colorFor(1, breaks)).toBe(CLASS_COLORS[0])
    expect(colorFor(50, breaks)).toBe(CLASS_COLORS[4])
  })

  it('uses one class a value when the maximum is small', () => {
    const breaks = classBreaks(3)
    expect(colorFor(1, breaks)).toBe(CLASS_COLORS[0])
    expect(colorFor(3, breaks)).toBe(CLASS_COLORS[2])
  })
})
