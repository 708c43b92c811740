"""Pure domain code: phones, lexicon, task formats, output parsing, MDD alignment, metrics.

Nothing here touches the network, the database or the file system beyond reading the
package's own lexicon data.
"""
