package io.falconmamba.cli;

import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code falcon-mamba}: generate, chat, logits, info, bench and serve from the command line. */
@Command(
        name = "falcon-mamba",
        mixinStandardHelpOptions = true,
        version = "falcon-mamba-java 0.1.0",
        description = "Run Falcon Mamba / Mamba-1 models on the CPU.")
public final class Main implements Runnable {

    /**
     * The subcommands, in the order help lists them. Picocli reads a command's annotations by reflection when it
     * is added, a tenth of a second for all of them at start-up, so a command line that names one adds only that
     * one (see {@link #commandLine}).
     */
    private static final Map<String, Supplier<Object>> COMMANDS = new LinkedHashMap<>();

    static {
        COMMANDS.put("generate", GenerateCommand::new);
        COMMANDS.put("chat", ChatCommand::new);
        COMMANDS.put("logits", LogitsCommand::new);
        COMMANDS.put("info", InfoCommand::new);
        COMMANDS.put("bench", BenchCommand::new);
        COMMANDS.put("convert", ConvertCommand::new);
        COMMANDS.put("serve", ServeCommand::new);
        COMMANDS.put("help", CommandLine.HelpCommand::new);
    }

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
        CommandLine cl = commandLine(args);
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

    /**
     * The command line with the subcommand {@code args} names, or with all of them where the arguments name none
     * first (help, a misspelt command, options before the command): those print the full list.
     */
    private static CommandLine commandLine(String... args) {
        CommandLine cl = new CommandLine(new Main());
        String first = args.length > 0 ? args[0] : "";
        if (COMMANDS.containsKey(first) && !first.equals("help")) {
            cl.addSubcommand(first, COMMANDS.get(first).get());
        } else {
            COMMANDS.forEach((name, command) -> cl.addSubcommand(name, command.get()));
        }
        return cl;
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
