import { describe, expect, it } from 'vitest'
import { mayOpen, seesOverview } from './labels'
import type { Role } from './types'

const MAP = { overview: true } // /map, /dashboard, /reports
const CONSOLE = { supervisor: true } // /admin/..., /admin/grids

describe('who opens which screens', () => {
  it('lets team leaders and supervisors open the map, dashboard and reports, and nobody else', () => {
    const opens = (role: Role) => mayOpen(MAP, { role })
    expect(opens('team_leader')).toBe(true)
    expect(opens('township_supervisor')).toBe(true)
    expect(opens('county_admin')).toBe(true)
    expect(opens('mediator')).toBe(false)
    expect(opens('grid_worker')).toBe(false)
    expect(mayOpen(MAP, null)).toBe(false)
  })

  it('keeps the admin console for supervisors: a team leader is sent home from it', () => {
    expect(mayOpen(CONSOLE, { role: 'team_leader' })).toBe(false)
    expect(mayOpen(CONSOLE, { role: 'township_supervisor' })).toBe(true)
    expect(seesOverview({ role: 'team_leader' })).toBe(true)
  })

  it('opens plain screens to everyone signed in', () => {
    expect(mayOpen({}, { role: 'mediator' })).toBe(true)
  })
})
