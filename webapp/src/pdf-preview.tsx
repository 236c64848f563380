// The preview of an attachment (docs/webmail.md, "Attachments"), a dialog closed with Escape or its
// button: an image as it is, a PDF's pages drawn on a canvas by Mozilla's pdf.js, one at a time with
// Previous/Next. This module is a chunk loaded at the first preview, and pdf.js one of its own
// loaded at the first PDF preview; pdf.js parses in its worker, served from
// /mail/assets/ like the rest of the app (PDF_WORKER_URL, written by webapp/build.js). Nothing in
// the PDF runs: no eval (isEvalSupported: false) and no PDF JavaScript (pdf.js runs it only
// through its scripting sandbox, which is not loaded). Bounded: files up to maxPdfBytes, the first
// maxPdfPages pages, each canvas at most maxCanvasPixels.
import type { PDFDocumentProxy } from 'pdfjs-dist';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import type { BodyPart } from './jmap.ts';

declare const PDF_WORKER_URL: string;

const megabytes = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

export const maxPdfBytes = 25 * 1024 * 1024;
export const maxPdfPages = 20;
/** A page's canvas is scaled down to hold at most this many pixels (4096 × 4096). */
const maxCanvasPixels = 4096 * 4096;
/** The width a page is drawn at, in CSS pixels, before the screen's pixel ratio. */
const pageWidth = 800;

type State =
  | { kind: 'loading' }
  | { kind: 'failed'; message: string }
  | { kind: 'ready'; doc: PDFDocumentProxy; shown: number };

/** Why a PDF cannot be shown, in words: pdf.js's errors name their kind. */
function failure(error: unknown): string {
  const name = error instanceof Error ? error.name : '';
  if (name === 'PasswordException') return 'This PDF is protected by a password and cannot be previewed.';
  if (name === 'InvalidPDFException' || name === 'FormatError' || name === 'UnknownErrorException')
    return 'This file could not be read as a PDF.';
  return `The PDF could not be previewed: ${error instanceof Error ? error.message : String(error)}`;
}

export function PdfPreview(props: { url: string; name: string; size: number }) {
  const [state, setState] = useState<State>({ kind: 'loading' });
  const [page, setPage] = useState(1);
  const canvas = useRef<HTMLCanvasElement>(null);

  useEffect(() => {
    if (props.size > maxPdfBytes) {
      setState({
        kind: 'failed',
        message: `This PDF is too large to preview (${megabytes(props.size)}; up to ${megabytes(maxPdfBytes)}).`,
      });
      return;
    }
    let gone = false;
    let destroy: (() => void) | undefined;
    (async () => {
      const [pdfjs, response] = await Promise.all([
        import('pdfjs-dist'),
        fetch(props.url, { credentials: 'same-origin' }),
      ]);
      if (!response.ok) throw new Error(`the server answered ${response.status}`);
      const data = new Uint8Array(await response.arrayBuffer());
      if (data.length > maxPdfBytes) throw new Error(`it is larger than ${megabytes(maxPdfBytes)}`);
      if (gone) return;
      pdfjs.GlobalWorkerOptions.workerSrc = PDF_WORKER_URL;
      const task = pdfjs.getDocument({
        data,
        isEvalSupported: false,
        enableXfa: false,
        stopAtErrors: false,
        maxImageSize: maxCanvasPixels,
        canvasMaxAreaInBytes: maxCanvasPixels * 4,
      });
      destroy = () => void task.destroy();
      const doc = await task.promise;
      if (!gone) setState({ kind: 'ready', doc, shown: Math.min(doc.numPages, maxPdfPages) });
    })().catch((error) => {
      if (!gone) setState({ kind: 'failed', message: failure(error) });
    });
    return () => {
      gone = true;
      destroy?.();
    };
  }, [props.url]);

  useEffect(() => {
    if (state.kind !== 'ready' || !canvas.current) return;
    const target = canvas.current;
    let gone = false;
    let cancel: (() => void) | undefined;
    (async () => {
      const pdfPage = await state.doc.getPage(page);
      if (gone) return;
      const natural = pdfPage.getViewport({ scale: 1 });
      let scale = (pageWidth / natural.width) * Math.min(window.devicePixelRatio || 1, 2);
      const pixels = natural.width * natural.height * scale * scale;
      if (pixels > maxCanvasPixels) scale *= Math.sqrt(maxCanvasPixels / pixels);
      const viewport = pdfPage.getViewport({ scale });
      target.width = Math.max(1, Math.floor(viewport.width));
      target.height = Math.max(1, Math.floor(viewport.height));
      const task = pdfPage.render({ canvas: target, viewport });
      cancel = () => task.cancel();
      await task.promise;
    })().catch((error) => {
      if (!gone && (error as Error)?.name !== 'RenderingCancelledException')
        setState({ kind: 'failed', message: failure(error) });
    });
    return () => {
      gone = true;
      cancel?.();
    };
  }, [state, page]);

  if (state.kind === 'loading') return <p class="pdf-status">Loading the preview…</p>;
  if (state.kind === 'failed')
    return (
      <p class="pdf-status" role="alert">
        {state.message} Download it to open it.
      </p>
    );
  const { doc, shown } = state;
  return (
    <div class="pdf-preview">
      <canvas ref={canvas} role="img" aria-label={`Page ${page} of ${props.name}`} />
      <nav class="pdf-pages" aria-label="Pages">
        <button type="button" disabled={page <= 1} onClick={() => setPage(page - 1)}>
          Previous page
        </button>
        <span aria-live="polite">
          Page {page} of {doc.numPages}
        </span>
        <button type="button" disabled={page >= shown} onClick={() => setPage(page + 1)}>
          Next page
        </button>
      </nav>
      {doc.numPages > shown && (
        <p class="pdf-status">
          The preview shows the first {shown} of {doc.numPages} pages; download the file for the rest.
        </p>
      )}
    </div>
  );
}

/** The dialog: the image or the PDF's pages, Download, and Close (focused when it opens). */
export function PreviewDialog(props: { part: BodyPart; href: string; onClose(): void }) {
  const { part, href } = props;
  const image = part.type.startsWith('image/');
  const name = part.name ?? (image ? 'image' : 'PDF');
  // Escape closes it wherever the focus is (a page button that became disabled leaves it on the body).
  // A layout effect: the listener is there as soon as the dialog is, not a frame later (a quick Escape was lost).
  useLayoutEffect(() => {
    const closeOnEscape = (e: KeyboardEvent) => {
      if (e.key === 'Escape') props.onClose();
    };
    document.addEventListener('keydown', closeOnEscape);
    return () => document.removeEventListener('keydown', closeOnEscape);
  }, [props.onClose]);
  return (
    <div class="preview-overlay" role="dialog" aria-modal="true" aria-label={`Preview of ${name}`}>
      {image ? <img src={href} alt={name} /> : <PdfPreview url={href} name={name} size={part.size} />}
      <div class="actions">
        <a href={href} download={part.name ?? 'attachment'}>
          Download
        </a>
        <button type="button" onClick={props.onClose} ref={(b) => b?.focus()}>
          Close preview
        </button>
      </div>
    </div>
  );
}
