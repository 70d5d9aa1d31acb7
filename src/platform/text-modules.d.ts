// Files the browser bundler inlines as text (scripts/build-browser.mjs, loader "text").
declare module '*.proto' {
  const text: string;
  export default text;
}
