// Admin: the runtime settings, editable ones in a form, read-only ones shown but locked.
import { h } from '../dom.js';
import { t } from '../i18n.js';
import { card, pageHeader } from '../ui.js';
import { configForm } from '../config-form.js';

export function render(root) {
  const box = h('div');
  root.append(pageHeader(t('nav.admin_config'), t('config.intro')), card(null, box));
  configForm(box);
}
