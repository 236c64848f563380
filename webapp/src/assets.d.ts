// Stylesheets are imported for their effect: esbuild bundles them into the app's CSS file.
declare module '*.css';
