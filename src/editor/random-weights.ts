/** A network that ran on seeded random weights in the last run, read from the run's weights lines. */
export interface RandomNetwork {
  /** "VGG19 normalised", "Decoder". */
  network: string;
  /** The checkpoint name to load ("vgg_normalised"). */
  name: string;
  nodes: string[];
}

/**
 * The networks of a run that used random weights: every line "TITLE: random (seed N); no weights named "NAME" were
 * loaded" (src/nodes/weights.ts `describeNetwork`), merged by title and name.
 */
export function randomNetworks(lines: readonly { nodes: string[]; weights: string }[]): RandomNetwork[] {
  const out: RandomNetwork[] = [];
  for (const l of lines) {
    const m = /^(.*?): random \(seed -?\d+\); no weights named "([^"]*)" were loaded/.exec(l.weights);
    if (!m) continue;
    const [, network, name] = m as unknown as [string, string, string];
    const same = out.find((o) => o.network === network && o.name === name);
    if (same) same.nodes = [...new Set([...same.nodes, ...l.nodes])];
    else out.push({ network, name, nodes: [...l.nodes] });
  }
  return out;
}
