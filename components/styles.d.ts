// Stylesheets are bundled by Next; TypeScript only needs to know they exist.
declare module '*.css';
