import { describe, expect, it } from 'vitest'
import { keepsOfflineCopy } from './offline'
import type { Role } from '../people/types'

describe('keepsOfflineCopy', () => {
  it('field roles keep their cases on the phone; township supervisors and the county office do not', () => {
    const roles: Role[] = ['mediator', 'grid_worker', 'team_leader', 'township_supervisor', 'county_admin']
    expect(roles.filter((role) => keepsOfflineCopy({ role }))).toEqual(['mediator', 'grid_worker', 'team_leader'])
  })

  it('nobody signed in keeps nothing', () => {
    expect(keepsOfflineCopy(null)).toBe(false)
  })
})
