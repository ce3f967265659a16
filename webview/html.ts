/**
 * The webview's HTML, for the extension host to call (pure: no `vscode` import). A strict CSP: no inline script
 * or style, scripts only with the nonce, styles/fonts/images only from the webview's own resource origin.
 */
export interface WebviewHtmlOptions {
  view: 'results' | 'chat';
  /** `webview.asWebviewUri(dist/webview/main.js)` as a string. */
  scriptUri: string;
  /** `webview.asWebviewUri(dist/webview/main.css)` as a string. */
  styleUri: string;
  /** `webview.cspSource`. */
  cspSource: string;
  /** A fresh `makeNonce()` per render. */
  nonce: string;
}

export function renderWebviewHtml(options: WebviewHtmlOptions): string {
  const { view, scriptUri, styleUri, cspSource, nonce } = options;
  if (view !== 'results' && view !== 'chat') throw new Error(`unknown webview view: ${String(view)}`);
  if (!/^[A-Za-z0-9+/_-]{16,}={0,2}$/.test(nonce)) throw new Error('the nonce must be at least 16 base64/alphanumeric characters');
  if (!cspSource.trim() || /[;,"<>\r\n]/.test(cspSource)) throw new Error('cspSource must be a list of CSP sources (no ";", "," or quotes)');
  const csp = [
    `default-src 'none'`,
    `img-src ${cspSource} data:`,
    `style-src ${cspSource}`,
    `script-src 'nonce-${nonce}'`,
    `font-src ${cspSource}`,
  ].join('; ');
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${escapeAttribute(csp)}">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<link rel="stylesheet" href="${escapeAttribute(styleUri)}">`,
    `<title>Ceneca ${view === 'chat' ? 'Chat' : 'Results'}</title>`,
    '</head>',
    `<body data-view="${view}">`,
    '<div id="app"></div>',
    `<script nonce="${nonce}" src="${escapeAttribute(scriptUri)}"></script>`,
    '</body>',
    '</html>',
  ].join('\n');
}

const NONCE_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** 32 random alphanumeric characters (≈190 bits) from the platform's CSPRNG. */
export function makeNonce(): string {
  const bytes = new Uint8Array(32);
  globalThis.crypto.getRandomValues(bytes);
  let nonce = '';
  // 248 = 4 × 62: bytes from 248 up are drawn again, so every character is equally likely.
  for (let i = 0; i < bytes.length; i++) {
    let byte = bytes[i]!;
    while (byte >= 248) {
      const again = new Uint8Array(1);
      globalThis.crypto.getRandomValues(again);
      byte = again[0]!;
    }
    nonce += NONCE_ALPHABET[byte % 62];
  }
  return nonce;
}

function escapeAttribute(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
