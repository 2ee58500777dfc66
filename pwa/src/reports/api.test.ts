import 'fake-indexeddb/auto'
import { describe, expect, it } from 'vitest'
import { fileNameOf, formatCell } from './api'

describe('report downloads', () => {
  it('takes the RFC 5987 file name first', () => {
    const header = `attachment; filename="report.xlsx"; filename*=UTF-8''${encodeURIComponent('日报告-2026-11-26-田园镇.xlsx')}`
    expect(fileNameOf(header, 'x')).toBe('日报告-2026-11-26-田园镇.xlsx')
    expect(fileNameOf('attachment; filename="daily.xlsx"', 'x')).toBe('daily.xlsx')
    expect(fileNameOf(null, 'fallback.xlsx')).toBe('fallback.xlsx')
  })

  it('formats cells by column type', () => {
    expect(formatCell(95.37, 'percent')).toBe('95.37%')
    expect(formatCell(null, 'percent')).toBe('—')
    expect(formatCell(12, 'int')).toBe('12')
    expect(formatCell(null, 'text')).toBe('')
    expect(formatCell(12.5, 'number')).toBe('12.50') // average days to close
  })
})
