/**
 * What `ceneca ask` and `ceneca serve` both build from the configuration: the engine context (sources, model,
 * settings). A configuration that cannot work is reported on stderr and becomes exit code 2.
 */
import { ConfigError, loadConfig, type CenecaConfig } from '../core/config';
import type { EngineContext } from '../core/pipeline/single';
import { createProvider, createSources } from '../core/setup';
import type { Output } from './render';

export type EngineParts = { context: EngineContext; config: CenecaConfig } | { exitCode: 2 };

export function engineParts(env: NodeJS.ProcessEnv, configPath: string | undefined, output: Output): EngineParts {
  let config: CenecaConfig;
  try {
    config = loadConfig(env, { configPath });
  } catch (error) {
    output.err.write(`ceneca: ${error instanceof ConfigError ? error.message : String(error)}\n`);
    return { exitCode: 2 };
  }
  if (!config.provider) {
    output.err.write(`ceneca: ${config.providerProblem}\n`);
    return { exitCode: 2 };
  }
  try {
    return { context: { sources: createSources(config), llm: createProvider(config.provider), settings: config.settings }, config };
  } catch (error) {
    output.err.write(`ceneca: ${error instanceof Error ? error.message : String(error)}\n`);
    return { exitCode: 2 };
  }
}
