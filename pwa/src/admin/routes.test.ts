import 'fake-indexeddb/auto'
import { describe, expect, it } from 'vitest'
import { createMemoryHistory, createRouter, type RouteRecordRaw } from 'vue-router'
import { signInForTest } from '../core/testSession'
import { adminRoutes, installAdminGuard } from './routes'

const Stub = { render: () => null }

async function routerFor(role: string) {
  await signInForTest({ id: 3, username: 'tianyuan', display_name: '田园', role, role_label: '', scope: { level: 'township', code: '530524101000', name: '田园镇' }, team: null })
  const routes = adminRoutes.map((r) => ('component' in r ? { ...r, component: Stub } : r)) as RouteRecordRaw[]
  const router = createRouter({ history: createMemoryHistory(), routes: [...routes, { path: '/', component: Stub }] })
  installAdminGuard(router)
  return router
}

describe('admin routes', () => {
  it('sends a township supervisor from the county-only screens to the users screen', async () => {
    const router = await routerFor('township_supervisor')
    for (const path of ['/admin/audit', '/admin/categories', '/admin/visit-policies']) {
      await router.push(path)
      expect(router.currentRoute.value.path, path).toBe('/admin/users')
    }
    await router.push('/admin/roster')
    expect(router.currentRoute.value.path).toBe('/admin/roster')
    await router.push('/admin')
    expect(router.currentRoute.value.path).toBe('/admin/users')
  })
})
