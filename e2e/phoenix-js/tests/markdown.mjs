// The docs' code blocks, read the way the tests that run them need: fenced blocks in order,
// the whole-file examples marked `<!-- example: PATH -->`, and the text under one heading.

/** The fenced blocks of `markdown` (fences at the start of a line), in order, as
 * {lang, code, example}: `example` is the path that an `<!-- example: PATH -->` line right
 * before the opening fence names (such a block is a copy of that file), else undefined. */
export function fencedBlocks(markdown) {
  return [...markdown.matchAll(/^(?:<!-- example: (.+?) -->\n)?```(\S*)\n([\s\S]*?)^```$/gm)]
    .map(([, example, lang, code]) => ({ lang, code, example }));
}

/** The paths of every `<!-- example: PATH -->` line, whether a fence follows it or not. */
export function exampleMarkers(markdown) {
  return [...markdown.matchAll(/^<!-- example: (.+?) -->$/gm)].map((m) => m[1]);
}

/** The text under the heading line `heading` (e.g. "## Walkthrough with curl") up to the next
 * heading of its level or a higher one; throws if there is no such heading. */
export function section(markdown, heading) {
  const lines = markdown.split("\n");
  const start = lines.indexOf(heading);
  if (start < 0) throw new Error(`no heading "${heading}"`);
  const level = heading.match(/^#+/)[0].length;
  let inFence = false;
  let end = start + 1;
  for (; end < lines.length; end++) {
    if (lines[end].startsWith("```")) inFence = !inFence;
    const hashes = !inFence && lines[end].match(/^(#+) /);
    if (hashes && hashes[1].length <= level) break;
  }
  return lines.slice(start + 1, end).join("\n");
}
