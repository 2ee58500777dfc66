import { describe, expect, it, vi } from 'vitest'
import { county, countySubtitle, loadCounty } from './county'

describe('county subtitle', () => {
  it('names the county the server serves, without a hard-coded one before', async () => {
    expect(countySubtitle.value).toBe('矛盾纠纷网格化调解')
    const get = vi.fn(async () => ({ code: '530999000000', name: '样例县', bbox: [99, 24, 100, 25] }))
    await loadCounty({ get } as never)
    expect(get).toHaveBeenCalledWith('/county', { auth: false })
    expect(county.value?.code).toBe('530999000000')
    expect(countySubtitle.value).toBe('样例县矛盾纠纷网格化调解')
  })
})
