/**
 * The admin console's routes (/admin/...): county admins and township supervisors (meta.supervisor);
 * categories, visit policies and the audit log are the county office's only (meta.countyOnly).
 * /admin/grids (grid generations) belongs to the grids screen and is only linked from here.
 */
import type { RouteRecordRaw, Router } from 'vue-router'
import { session } from '../core/session'

declare module 'vue-router' {
  interface RouteMeta {
    /** Only for county admins (township supervisors are sent to the console's first screen). */
    countyOnly?: boolean
  }
}

export const adminRoutes: RouteRecordRaw[] = [
  { path: '/admin', redirect: '/admin/users' },
  { path: '/admin/users', name: 'admin-users', component: () => import('./UsersView.vue'), meta: { auth: true, supervisor: true, title: '用户管理' } },
  { path: '/admin/teams', name: 'admin-teams', component: () => import('./TeamsView.vue'), meta: { auth: true, supervisor: true, title: '调解队' } },
  { path: '/admin/devices', name: 'admin-devices', component: () => import('./DevicesView.vue'), meta: { auth: true, supervisor: true, title: '设备' } },
  { path: '/admin/roster', name: 'admin-roster', component: () => import('./RosterView.vue'), meta: { auth: true, supervisor: true, title: '花名册导入' } },
  { path: '/admin/categories', name: 'admin-categories', component: () => import('./CategoriesView.vue'), meta: { auth: true, supervisor: true, countyOnly: true, title: '纠纷类别' } },
  { path: '/admin/visit-policies', name: 'admin-policies', component: () => import('./PoliciesView.vue'), meta: { auth: true, supervisor: true, countyOnly: true, title: '回访规则' } },
  { path: '/admin/risk-rules', name: 'admin-risk', component: () => import('./RiskRulesView.vue'), meta: { auth: true, supervisor: true, countyOnly: true, title: '风险规则' } },
  { path: '/admin/audit', name: 'admin-audit', component: () => import('./AuditView.vue'), meta: { auth: true, supervisor: true, countyOnly: true, title: '审计日志' } },
]

export function installAdminGuard(router: Router): void {
  router.beforeEach((to) => {
    if (to.meta.countyOnly && session.user?.role !== 'county_admin') return { name: 'admin-users' }
    return true
  })
}
