// Core/echo (RFC 8620 4): answers its arguments as they came, after result references resolved.
import { coreCapability, type JmapMethod } from './jmap-request.ts';
import type { JmapCallContext } from './jmap-context.ts';

export const coreMethods: [string, JmapMethod<JmapCallContext>][] = [
  ['Core/echo', { capability: coreCapability, run: async (args) => args }],
];
