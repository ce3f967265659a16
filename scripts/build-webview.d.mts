/** Bundles webview/main.ts → dist/webview/main.js (iife, browser, es2022, minified) and copies webview/style.css → dist/webview/main.css. */
export function buildWebview(): Promise<void>;
