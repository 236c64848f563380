// HTML mail, made safe to show: DOMPurify (a maintained sanitiser) removes scripts, event handlers,
// javascript: and other active URLs, forms and anything else that could act; on top of that, remote
// content is blocked until the user allows it (tracking pixels tell a sender when and where mail is
// read), addresses of the server itself are dropped (a message must not make the browser call this
// origin with the user's cookie), links open in a new tab without a Referer and show where they
// lead. The result is written into a sandboxed frame whose own policy runs no script either
// (message-frame.tsx, /mail/frame.html).
import DOMPurify from 'dompurify';

export interface SanitizeOptions {
  /** Whether remote images (and other remote content) may load. */
  remoteImages: boolean;
  /** The download URL of an inline part by its Content-ID, for `cid:` references. */
  cidUrl(cid: string): string | undefined;
}

export interface Sanitized {
  html: string;
  /** How many remote references were left out (0 when `remoteImages`). */
  blocked: number;
}

const remote = /^\s*(https?:)?\/\//i;
const urlAttributes = ['src', 'background', 'poster'];

export function sanitizeMail(html: string, options: SanitizeOptions): Sanitized {
  // A fresh instance per message: hooks are per instance.
  const purify = DOMPurify(window);
  let blocked = 0;
  purify.addHook('afterSanitizeAttributes', (node) => {
    const element = node as Element;
    if (!element.getAttribute) return;
    if (element.tagName === 'A' && element.hasAttribute('href')) {
      const href = element.getAttribute('href') ?? '';
      if (/^\s*(https?:|mailto:)/i.test(href)) {
        element.setAttribute('target', '_blank');
        element.setAttribute('rel', 'noopener noreferrer');
        element.setAttribute('title', href);
      } else if (!href.trim().startsWith('#')) {
        // Relative links would reach this server; anything else (data:, tel: …) is dropped too.
        element.removeAttribute('href');
      }
    }
    for (const name of urlAttributes) {
      const value = element.getAttribute(name);
      if (value === null) continue;
      if (/^\s*cid:/i.test(value)) {
        const url = options.cidUrl(value.trim().slice(4));
        if (url) element.setAttribute(name, url);
        else element.removeAttribute(name);
      } else if (remote.test(value)) {
        if (!options.remoteImages) {
          element.removeAttribute(name);
          element.setAttribute('data-blocked', name);
          blocked++;
        }
      } else if (!/^\s*data:image\//i.test(value)) {
        element.removeAttribute(name);
      }
    }
    if (element.hasAttribute('srcset')) {
      element.removeAttribute('srcset');
      if (!options.remoteImages) blocked++;
    }
    const style = element.getAttribute('style');
    if (style && !options.remoteImages && /url\s*\(/i.test(style)) {
      element.setAttribute('style', style.replace(/url\s*\([^)]*\)/gi, 'none'));
      blocked++;
    }
  });
  const clean = purify.sanitize(html, {
    FORBID_TAGS: ['form', 'input', 'button', 'textarea', 'select', 'option', 'base', 'meta', 'link', 'iframe'],
    FORBID_ATTR: ['action', 'formaction', 'ping'],
    ADD_ATTR: ['target'],
    FORCE_BODY: true,
    RETURN_TRUSTED_TYPE: false,
  });
  // Remote addresses inside <style> elements cannot be counted one by one; the frame's policy
  // blocks them until the user allows remote content.
  if (!options.remoteImages && /<style[\s\S]*url\s*\(\s*['"]?\s*(https?:)?\/\//i.test(clean)) blocked++;
  return { html: String(clean), blocked };
}
