package io.falconmamba.hub;

import java.util.Objects;
import java.util.regex.Pattern;

/**
 * A Hugging Face model repository, {@code org/name}, with an optional revision (branch, tag or
 * 40-hex commit). Parsed from {@code org/name} or {@code org/name@revision}.
 *
 * @param org      the owner (user or organisation)
 * @param name     the repository name
 * @param revision the revision, or {@code null} for the default ({@value #DEFAULT_REVISION})
 */
public record RepoId(String org, String name, String revision) {

    /** The revision used when none is given. */
    public static final String DEFAULT_REVISION = "main";

    private static final Pattern PART = Pattern.compile("[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?");
    private static final Pattern COMMIT = Pattern.compile("[0-9a-f]{40}");
    private static final int MAX_ID_LENGTH = 96;

    public RepoId {
        Objects.requireNonNull(org, "org");
        Objects.requireNonNull(name, "name");
        String problem = idProblem(org + "/" + name);
        if (problem != null) {
            throw new HubException(
                    HubException.Reason.INVALID_ID, "invalid repo id '" + org + "/" + name + "': " + problem);
        }
        if (revision != null) {
            String revProblem = revisionProblem(revision);
            if (revProblem != null) {
                throw new HubException(
                        HubException.Reason.INVALID_ID,
                        "invalid revision '" + revision + "' for " + org + "/" + name + ": " + revProblem);
            }
        }
    }

    /**
     * Parses {@code org/name} or {@code org/name@revision}.
     *
     * @throws HubException ({@link HubException.Reason#INVALID_ID}) naming what is wrong
     */
    public static RepoId parse(String text) {
        if (text == null || text.isBlank()) {
            throw new HubException(
                    HubException.Reason.INVALID_ID, "empty repo id (expected org/name or org/name@revision)");
        }
        String id = text;
        String revision = null;
        int at = text.indexOf('@');
        if (at >= 0) {
            id = text.substring(0, at);
            revision = text.substring(at + 1);
            if (revision.isEmpty()) {
                throw new HubException(
                        HubException.Reason.INVALID_ID, "invalid repo id '" + text + "': empty revision after '@'");
            }
        }
        String problem = idProblem(id);
        if (problem != null) {
            throw new HubException(
                    HubException.Reason.INVALID_ID,
                    "invalid repo id '" + text + "': " + problem + " (expected org/name or org/name@revision)");
        }
        int slash = id.indexOf('/');
        return new RepoId(id.substring(0, slash), id.substring(slash + 1), revision);
    }

    /** Whether {@code text} parses as {@code org/name[@revision]}. */
    public static boolean isValid(String text) {
        try {
            parse(text);
            return true;
        } catch (HubException e) {
            return false;
        }
    }

    /** {@code org/name}, without the revision. */
    public String id() {
        return org + "/" + name;
    }

    /** The revision, or {@value #DEFAULT_REVISION} when none was given. */
    public String effectiveRevision() {
        return revision == null ? DEFAULT_REVISION : revision;
    }

    /** The same repo at another revision. */
    public RepoId withRevision(String newRevision) {
        return new RepoId(org, name, newRevision);
    }

    /** The folder of this repo inside a Hugging Face hub cache: {@code models--org--name}. */
    public String cacheFolderName() {
        return "models--" + org + "--" + name;
    }

    /** Whether {@code revision} is a full commit hash (40 lowercase hex digits). */
    public static boolean isCommitHash(String revision) {
        return revision != null && COMMIT.matcher(revision).matches();
    }

    @Override
    public String toString() {
        return revision == null ? id() : id() + "@" + revision;
    }

    private static String idProblem(String id) {
        int slash = id.indexOf('/');
        if (slash < 0) {
            return "missing '/' between organisation and name";
        }
        if (id.indexOf('/', slash + 1) >= 0) {
            return "more than one '/'";
        }
        if (id.length() > MAX_ID_LENGTH) {
            return "longer than " + MAX_ID_LENGTH + " characters";
        }
        String org = id.substring(0, slash);
        String name = id.substring(slash + 1);
        for (String part : new String[] {org, name}) {
            if (part.isEmpty()) {
                return "empty organisation or name";
            }
            if (!PART.matcher(part).matches()) {
                return "'" + part
                        + "' may only contain letters, digits, '_', '-' and '.', and must start and end with a letter or digit";
            }
            if (part.contains("--") || part.contains("..")) {
                return "'" + part + "' contains '--' or '..'";
            }
        }
        if (name.endsWith(".git")) {
            return "name ends with '.git'";
        }
        return null;
    }

    private static String revisionProblem(String revision) {
        if (revision.isEmpty()) {
            return "empty";
        }
        if (revision.length() > 255) {
            return "longer than 255 characters";
        }
        for (int i = 0; i < revision.length(); i++) {
            char c = revision.charAt(i);
            if (c <= ' ' || c == 0x7f || c == '\\' || c == ':' || c == '?' || c == '*' || c == '"' || c == '<'
                    || c == '>' || c == '|') {
                return "contains a character not allowed in a revision";
            }
        }
        if (revision.startsWith("/") || revision.endsWith("/")) {
            return "starts or ends with '/'";
        }
        for (String segment : revision.split("/", -1)) {
            if (segment.isEmpty() || segment.equals(".") || segment.equals("..")) {
                return "has an empty, '.' or '..' path segment";
            }
        }
        return null;
    }
}
