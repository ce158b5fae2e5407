package io.falconmamba.cli;

import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code falcon-mamba}: generate, chat, logits, info, bench and serve from the command line. */
@Command(
        name = "falcon-mamba",
        mixinStandardHelpOptions = true,
        version = "falcon-mamba-java 0.1.0",
        description = "Run Falcon Mamba / Mamba-1 models on the CPU.",
        subcommands = {
            GenerateCommand.class,
            ChatCommand.class,
            LogitsCommand.class,
            InfoCommand.class,
            BenchCommand.class,
            ConvertCommand.class,
            ServeCommand.class,
            CommandLine.HelpCommand.class
        })
public final class Main implements Runnable {

    @Option(names = "--verbose", description = "Show stack traces of errors.", scope = CommandLine.ScopeType.INHERIT)
    boolean verbose;

    @Override
    public void run() {
        CommandLine.usage(this, System.err);
    }

    public static void main(String[] args) {
        // The engine's warnings (a weight scan that finds NaN, say) as one line, like every other message here.
        if (System.getProperty("java.util.logging.SimpleFormatter.format") == null) {
            System.setProperty("java.util.logging.SimpleFormatter.format", "warning: %5$s%n");
        }
        System.exit(run(args));
    }

    /** Runs the command line and returns its exit code (tests call this instead of {@link #main}). */
    public static int run(String... args) {
        Progress.quiet(false);
        CommandLine cl = new CommandLine(new Main());
        cl.setParameterExceptionHandler((ex, a) -> usage(ex.getCommandLine(), ex.getMessage()));
        cl.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            if (ex instanceof UsageException) {
                return usage(commandLine, ex.getMessage());
            }
            PrintWriter err = commandLine.getErr();
            boolean verbose = parseResult.matchedOptionValue("--verbose", false)
                    || (parseResult.subcommand() != null
                            && parseResult.subcommand().matchedOptionValue("--verbose", false));
            err.println("error: " + Errors.describe(ex));
            if (verbose) {
                ex.printStackTrace(err);
            }
            err.flush();
            return 1;
        });
        return cl.execute(args);
    }

    /** A usage error: one line naming the command's help, exit code 2. */
    private static int usage(CommandLine commandLine, String message) {
        PrintWriter err = commandLine.getErr();
        err.println("error: " + message.replace('\n', ' ') + " (see: "
                + commandLine.getCommandSpec().qualifiedName() + " --help)");
        err.flush();
        return 2;
    }
}
