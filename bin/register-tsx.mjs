// Loads TypeScript for the osloscope CLI: tsx, resolved from this package
// (its own node_modules, or the one it was installed into, as npm hoists it).
import { register } from 'tsx/esm/api';

register();
