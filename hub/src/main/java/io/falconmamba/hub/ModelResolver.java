package io.falconmamba.hub;

import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * Turns what a user passes to {@code FalconMamba.load(...)} into a local model directory.
 *
 * <ol>
 *   <li>An existing directory wins: {@code /models/falcon-mamba-7b}, {@code ./tiny}, {@code ~/m}; so does an
 *       existing {@code .gguf} file (a whole model in one file).</li>
 *   <li>Else the string must be a repo id {@code org/name} or {@code org/name@revision} (or the revision
 *       comes from {@link ResolveOptions#revision()}; default {@code main}). It is looked up in the Hugging
 *       Face hub cache ({@link ResolveOptions#cacheRoot()}), exactly where huggingface_hub's
 *       {@code snapshot_download} puts it: {@code models--org--name/snapshots/{commit}}, with the commit
 *       read from {@code refs/{revision}}. A snapshot counts only if it holds config.json and all the
 *       weights.</li>
 *   <li>Else, only if {@link ResolveOptions#allowDownload()}, the model is downloaded from the Hub into
 *       that same cache layout (resumable, verified) and the snapshot directory is returned.</li>
 * </ol>
 *
 * Nothing touches the network unless downloading is allowed and the cache lacks the model. Every failure
 * is a {@link HubException} whose message names the path, repo, file or URL.
 */
public final class ModelResolver {

    private ModelResolver() {}

    /**
     * How the not-found message says to allow downloading, for a library user; a front end with its own switch (the
     * command line's {@code --download}) puts its own words in its place.
     */
    public static final String DOWNLOAD_HINT = "enable downloads (ResolveOptions.builder().allowDownload(true))";

    /** {@link #resolve(String, ResolveOptions)} with {@link ResolveOptions#defaults()} (no download). */
    public static Path resolve(String pathOrRepoId) {
        return resolve(pathOrRepoId, ResolveOptions.defaults());
    }

    /**
     * Resolves a local model directory or a Hub repo id to a directory holding config.json and the
     * weights (and, when downloaded, the tokenizer files).
     *
     * @param pathOrRepoId an existing directory, or {@code org/name[@revision]}
     * @param opts         where to look and whether downloading is allowed
     * @return the model directory (a local directory as given, or a cache snapshot directory)
     * @throws HubException naming what was looked for and where
     */
    public static Path resolve(String pathOrRepoId, ResolveOptions opts) {
        Objects.requireNonNull(opts, "opts");
        if (pathOrRepoId == null || pathOrRepoId.isBlank()) {
            throw new HubException(
                    HubException.Reason.INVALID_ID,
                    "no model given: expected a model directory or a Hugging Face repo id (org/name)");
        }
        String text = pathOrRepoId.strip();

        Path local = localPath(text, opts);
        if (local != null && Files.isDirectory(local)) {
            List<String> missing = HubCache.missingFiles(local);
            if (!missing.isEmpty()) {
                throw new HubException(
                        HubException.Reason.INCOMPLETE_MODEL,
                        "model directory " + local.toAbsolutePath() + " is incomplete: missing "
                                + String.join(", ", missing));
            }
            return local;
        }

        if (local != null && Files.isRegularFile(local) && isGguf(local)) {
            return local;
        }
        if (local != null && Files.isRegularFile(local)) {
            throw new HubException(
                    HubException.Reason.INVALID_ID,
                    local.toAbsolutePath()
                            + " is a file: pass the model directory that holds config.json and the weights,"
                            + " or a .gguf file");
        }
        if (!RepoId.isValid(text)) {
            String why;
            try {
                RepoId.parse(text);
                why = "";
            } catch (HubException e) {
                why = " (" + e.getMessage() + ")";
            }
            throw new HubException(
                    HubException.Reason.INVALID_ID,
                    "'" + text + "' is neither an existing directory"
                            + (local != null ? " (" + local.toAbsolutePath() + ")" : "")
                            + " nor a Hugging Face repo id of the form org/name[@revision]" + why);
        }
        RepoId repo = withRevisionOption(RepoId.parse(text), opts);

        Path cacheRoot = opts.cacheRoot();
        Path repoDir = HubCache.repoDir(cacheRoot, repo);
        String revision = repo.effectiveRevision();
        String commit = HubCache.commitFor(repoDir, revision);
        String incomplete = null;
        if (commit != null) {
            Path snapshot = repoDir.resolve("snapshots").resolve(commit);
            if (Files.isDirectory(snapshot)) {
                List<String> missing = HubCache.missingFiles(snapshot);
                if (missing.isEmpty()) {
                    return snapshot;
                }
                incomplete = "cached snapshot " + snapshot + " is incomplete: missing " + String.join(", ", missing);
            }
        }

        if (!opts.allowDownload() || opts.offline()) {
            StringBuilder msg = new StringBuilder();
            msg.append("model '").append(repo).append("' not found: ");
            msg.append("no local directory ").append(local != null ? local.toAbsolutePath() : text);
            msg.append(", and not in the Hugging Face cache at ").append(repoDir);
            msg.append(" (revision ").append(revision);
            if (commit == null && !RepoId.isCommitHash(revision)) {
                msg.append(": no ").append(HubCache.refFile(repoDir, revision));
            }
            msg.append(")");
            if (incomplete != null) {
                msg.append("; ").append(incomplete);
            }
            msg.append(". The cache root comes from HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub.");
            if (opts.offline()) {
                msg.append(" Downloading is disabled because HF_HUB_OFFLINE is set.");
            } else {
                msg.append(" To download it from the Hub, ")
                        .append(DOWNLOAD_HINT)
                        .append(", or fetch it first, e.g. `hf download ")
                        .append(repo.id())
                        .append("`.");
            }
            throw new HubException(HubException.Reason.NOT_FOUND, msg.toString());
        }

        return new HubDownloader(opts, cacheRoot).download(repo);
    }

    /**
     * Resolves a repository's GGUF file: from the Hugging Face cache when its snapshot holds the chosen file,
     * else (only if {@link ResolveOptions#allowDownload()}) by listing the repository on the Hub, choosing, and
     * downloading that one file into the cache.
     *
     * @param repoId {@code org/name[@revision]}
     * @return the GGUF file
     * @throws HubException naming the repository and listing its GGUF files when the choice fits none or several
     */
    public static Path resolveGguf(String repoId, GgufChoice choice, ResolveOptions opts) {
        Objects.requireNonNull(choice, "choice");
        Objects.requireNonNull(opts, "opts");
        RepoId repo = withRevisionOption(RepoId.parse(repoId.strip()), opts);
        Path repoDir = HubCache.repoDir(opts.cacheRoot(), repo);
        String commit = HubCache.commitFor(repoDir, repo.effectiveRevision());
        if (commit != null) {
            Path snapshot = repoDir.resolve("snapshots").resolve(commit);
            List<String> cached = HubCache.listFiles(snapshot);
            if (opts.offline() || !opts.allowDownload()) {
                Path file = snapshot.resolve(choice.pick(repo + " (cached at " + snapshot + ")", cached));
                if (Files.isRegularFile(file)) {
                    return file;
                }
            } else if (choice.fileName() != null && cached.contains(choice.fileName())) {
                return snapshot.resolve(choice.fileName());
            }
        }
        if (!opts.allowDownload() || opts.offline()) {
            throw new HubException(
                    HubException.Reason.NOT_FOUND,
                    "model '" + repo + "' is not in the Hugging Face cache at " + repoDir
                            + (opts.offline()
                                    ? "; downloading is disabled because HF_HUB_OFFLINE is set"
                                    : "; enable downloads (--download) to fetch its GGUF file"));
        }
        return new HubDownloader(opts, opts.cacheRoot()).downloadGguf(repo, choice);
    }

    /** Whether a path names a GGUF file by its extension. */
    static boolean isGguf(Path p) {
        Path name = p.getFileName();
        return name != null
                && name.toString().toLowerCase(java.util.Locale.ROOT).endsWith(".gguf");
    }

    /** The directory where the hub cache keeps {@code pathOrRepoId} (whether or not it exists). */
    public static Path cacheDirOf(String repoId, ResolveOptions opts) {
        return HubCache.repoDir(opts.cacheRoot(), RepoId.parse(repoId));
    }

    private static RepoId withRevisionOption(RepoId repo, ResolveOptions opts) {
        String option = opts.revision();
        if (option == null || option.isBlank()) {
            return repo;
        }
        if (repo.revision() != null && !repo.revision().equals(option)) {
            throw new HubException(
                    HubException.Reason.INVALID_ID,
                    "conflicting revisions for " + repo.id() + ": '@" + repo.revision() + "' in the id but '" + option
                            + "' in the options");
        }
        return repo.withRevision(option);
    }

    private static Path localPath(String text, ResolveOptions opts) {
        try {
            return opts.expandHome(text);
        } catch (InvalidPathException e) {
            return null;
        }
    }
}
