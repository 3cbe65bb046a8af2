import { createRouter, createWebHistory, type RouteRecordRaw } from 'vue-router';
import { onSignedOut } from './api/client.ts';
import { can, signedIn } from './lib/session.ts';

// Every page but the sign-in ones is loaded on demand, keeping the first download small.
const routes: RouteRecordRaw[] = [
  { path: '/', redirect: '/dashboard' },
  {
    path: '/login',
    component: () => import('./views/LoginView.vue'),
    meta: { public: true, title: 'Sign in' },
  },
  {
    path: '/signup',
    component: () => import('./views/SignupView.vue'),
    meta: { public: true, title: 'Sign up' },
  },
  {
    path: '/check-email',
    component: () => import('./views/CheckEmailView.vue'),
    meta: { public: true, title: 'Check your e-mail' },
  },
  {
    path: '/verify-email/:token',
    component: () => import('./views/VerifyEmailView.vue'),
    meta: { public: true, title: 'Verify e-mail' },
  },
  {
    path: '/forgot-password',
    component: () => import('./views/ForgotPasswordView.vue'),
    meta: { public: true, title: 'Forgot password' },
  },
  {
    path: '/reset-password/:token',
    component: () => import('./views/ResetPasswordView.vue'),
    meta: { public: true, title: 'New password' },
  },
  {
    path: '/accept-invite/:token',
    component: () => import('./views/AcceptInviteView.vue'),
    meta: { public: true, title: 'Join your team' },
  },
  { path: '/dashboard', component: () => import('./views/DashboardView.vue'), meta: { title: 'Dashboard' } },
  { path: '/tasks', component: () => import('./views/TasksView.vue'), meta: { title: 'Tasks' } },
  { path: '/tasks/:uuid', component: () => import('./views/TaskView.vue'), meta: { title: 'Task' } },
  { path: '/board', component: () => import('./views/BoardView.vue'), meta: { title: 'Board' } },
  { path: '/calendar', component: () => import('./views/CalendarView.vue'), meta: { title: 'Calendar' } },
  { path: '/lists', component: () => import('./views/ListsView.vue'), meta: { title: 'Lists' } },
  { path: '/tags', component: () => import('./views/TagsView.vue'), meta: { title: 'Tags' } },
  {
    path: '/users',
    component: () => import('./views/UsersView.vue'),
    meta: { title: 'People', permission: 'USER_VIEW' },
  },
  {
    path: '/trash',
    component: () => import('./views/TrashView.vue'),
    meta: { title: 'Trash', permission: 'TASK_DELETE' },
  },
  {
    path: '/roles',
    component: () => import('./views/RolesView.vue'),
    meta: { title: 'Roles and permissions', permission: 'USER_VIEW' },
  },
  {
    path: '/groups',
    component: () => import('./views/GroupsView.vue'),
    meta: { title: 'Groups', permission: 'USER_VIEW' },
  },
  { path: '/settings', component: () => import('./views/SettingsView.vue'), meta: { title: 'Settings' } },
  {
    path: '/cc',
    component: () => import('./views/ControlCenterView.vue'),
    meta: { public: true, operator: true, title: 'Control center' },
  },
  {
    path: '/:rest(.*)*',
    component: () => import('./views/NotFoundView.vue'),
    meta: { public: true, title: 'Not found' },
  },
];

export const router = createRouter({ history: createWebHistory('/app/'), routes });

router.beforeEach((to) => {
  if (!to.meta.public && !signedIn.value) return { path: '/login', query: { next: to.fullPath } };
  if (typeof to.meta.permission === 'string' && !can(to.meta.permission)) return '/dashboard';
  return true;
});

router.afterEach((to) => {
  document.title = `${(to.meta.title as string | undefined) ?? 'Tenantry'} · Tenantry`;
});

onSignedOut.handler = () => {
  void router.push({ path: '/login', query: { next: router.currentRoute.value.fullPath, expired: '1' } });
};
