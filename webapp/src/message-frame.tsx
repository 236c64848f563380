// Shows a message's HTML: sanitised (sanitize.ts), written into a sandboxed frame. The frame is
// /mail/frame.html, whose Content-Security-Policy runs no script and loads remote images only in
// its `?images=remote` form; its `sandbox` attribute leaves out allow-scripts, so nothing in a
// message runs even if something got past the sanitiser. allow-same-origin lets the app write into
// it; allow-popups opens the message's links in a new tab.
import { useEffect, useMemo, useRef } from 'preact/hooks';
import { sanitizeMail } from './sanitize.ts';

export function MessageFrame(props: {
  html: string;
  remoteImages: boolean;
  cidUrl(cid: string): string | undefined;
  onBlocked(count: number): void;
}) {
  const frame = useRef<HTMLIFrameElement>(null);
  const clean = useMemo(
    () => sanitizeMail(props.html, { remoteImages: props.remoteImages, cidUrl: props.cidUrl }),
    [props.html, props.remoteImages],
  );
  useEffect(() => props.onBlocked(clean.blocked), [clean]);

  const fill = () => {
    const doc = frame.current?.contentDocument;
    if (!doc?.body) return;
    doc.body.innerHTML = clean.html;
  };
  useEffect(fill, [clean]);

  return (
    <iframe
      ref={frame}
      class="message-frame"
      title="Message"
      sandbox="allow-same-origin allow-popups allow-popups-to-escape-sandbox"
      referrerpolicy="no-referrer"
      src={`/mail/frame.html${props.remoteImages ? '?images=remote' : ''}`}
      onLoad={fill}
    />
  );
}
