import 'fake-indexeddb/auto'
import { describe, expect, it } from 'vitest'
import { createMemoryHistory, createRouter } from 'vue-router'
import { signInForTest } from '../core/testSession'
import { installPeopleHooks } from './hooks'
import { noteSignIn, passwordChanged } from './password'

const Stub = { render: () => null }

describe('one-time password guard', () => {
  it('opens only the password screen until the password is changed', async () => {
    await signInForTest({ id: 1, username: 'mediator1', display_name: '王德明', role: 'mediator', role_label: '', scope: { level: 'village', code: '530524101001', name: '关庙社区' }, team: null })
    const router = createRouter({
      history: createMemoryHistory(),
      routes: ['/', '/cases', '/login', '/password'].map((path) => ({ path, name: path === '/' ? 'home' : path.slice(1), component: Stub })),
    })
    installPeopleHooks(router)

    noteSignIn('mediator1', true, 'Xk7-one-time')
    await router.push('/cases')
    expect(router.currentRoute.value.path).toBe('/password')
    await router.push('/')
    expect(router.currentRoute.value.path).toBe('/password')

    passwordChanged()
    await router.push('/cases')
    expect(router.currentRoute.value.path).toBe('/cases')
  })
})
