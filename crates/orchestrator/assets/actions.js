// Operator actions. Each action is one entry of ACTIONS: its scope (`app` or `module`) decides
// where its button appears, `role` who may see it (the least role the API lets make the call),
// `when` whether it applies to the thing at hand, `confirm` what the operator is asked, `run`
// the REST call. Adding "migrate" later is one more entry here.

import { el } from './util.js';
import { request, allows, ApiError } from './session.js';

const enc = encodeURIComponent;

export const ACTIONS = [
  {
    id: 'delete-app',
    scope: 'app',
    role: 'operator',
    label: 'Delete',
    danger: true,
    confirm: ({ app }) => `Delete application “${app.name}”? Its ${app.modules.length} module(s) are stopped on their Hosts.`,
    run: ({ app }) => request('DELETE', `/v1/apps/${enc(app.name)}`),
    done: ({ app }) => `application ${app.name} deleted`,
  },
  {
    // A staged shadow of a zero-downtime update takes over from the running version.
    id: 'switchover',
    scope: 'module',
    role: 'operator',
    label: 'Switch over',
    when: ({ module }) => module.role === 'shadow',
    confirm: ({ module }) => `Switch ${module.app}/${module.module} over to the staged version ${module.id}?`,
    run: ({ module }) => request('POST', `/v1/apps/${enc(module.app)}/modules/${enc(module.module)}/switchover`),
    done: ({ module }) => `${module.app}/${module.module} switched over`,
  },
  {
    id: 'rollback',
    scope: 'module',
    role: 'operator',
    label: 'Roll back',
    when: ({ module }) => module.role === 'previous',
    confirm: ({ module }) => `Switch ${module.app}/${module.module} back to the previous version ${module.id}?`,
    run: ({ module }) => request('POST', `/v1/apps/${enc(module.app)}/modules/${enc(module.module)}/switchover?back=true`),
    done: ({ module }) => `${module.app}/${module.module} rolled back`,
  },
  // { id: 'migrate', scope: 'module', label: 'Migrate…', ... } once the API has it.
];

/** Ask in the page's <dialog>; resolves to true when confirmed. */
export function confirmDialog(text) {
  const dialog = document.getElementById('confirm');
  document.getElementById('confirm-text').textContent = text;
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
    dialog.returnValue = '';
    dialog.showModal();
  });
}

/** Show a short message under the header. */
export function notify(text, kind = 'ok') {
  const n = document.getElementById('notice');
  n.textContent = text;
  n.dataset.kind = kind;
  n.hidden = false;
  clearTimeout(notify.timer);
  notify.timer = setTimeout(() => { n.hidden = true; }, kind === 'ok' ? 5000 : 15000);
}

/** The actions of `scope` that apply to `ctx` ({app} or {module}) and that the role may use. */
function applicable(scope, ctx) {
  return ACTIONS.filter((a) => a.scope === scope && allows(a.role) && (!a.when || a.when(ctx)));
}

/**
 * Show why an action failed next to its button, where the operator is looking (the notice
 * under the header is far from a button in the side panel).
 */
function showError(button, text) {
  clearError(button);
  const msg = el('span', { class: 'action-error', role: 'alert', 'data-testid': 'action-error' }, text);
  button.after(msg);
  setTimeout(() => msg.remove(), 15000);
}

function clearError(button) {
  const old = button.nextElementSibling;
  if (old?.classList.contains('action-error')) old.remove();
}

/**
 * The buttons of the actions of `scope` that apply to `ctx` ({app} or {module}); `after` runs
 * when one succeeded (e.g. to poll at once).
 */
export function actionButtons(scope, ctx, after) {
  return applicable(scope, ctx).map((a) => {
    const b = el('button', { type: 'button', class: a.danger ? 'danger' : '', 'data-action': a.id, 'data-testid': `action-${a.id}` }, a.label);
    b.addEventListener('click', async (ev) => {
      ev.stopPropagation();
      clearError(b);
      if (a.confirm && !(await confirmDialog(a.confirm(ctx)))) return;
      b.disabled = true;
      try {
        await a.run(ctx);
        notify(a.done ? a.done(ctx) : `${a.label}: done`);
        after?.();
      } catch (e) {
        // A 401 has ended the session and the login form says so; a 403 is the server's
        // verdict on this role, worth showing as it is.
        if (e instanceof ApiError && e.status === 401) return;
        showError(b, e instanceof ApiError && e.status === 403 ? `Not allowed: ${e.message}` : `${a.label} failed: ${e.message}`);
      } finally {
        b.disabled = false;
      }
    });
    return b;
  });
}

/** A key that changes when the set of applicable actions changes. */
export function actionsKey(scope, ctx) {
  return applicable(scope, ctx).map((a) => a.id).join(',');
}
