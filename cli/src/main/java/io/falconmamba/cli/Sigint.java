package io.falconmamba.cli;

import java.lang.reflect.Method;
import java.lang.reflect.Proxy;

/**
 * Ctrl-C delivered to a handler instead of ending the JVM. The JDK's only hook for it is {@code sun.misc.Signal}
 * (module jdk.unsupported); it is reached reflectively because javac flags any direct use of it as a proprietary-API
 * warning, which this build treats as an error.
 */
final class Sigint implements AutoCloseable {

    private final Method handle;
    private final Object signal;
    private final Object previous;

    private Sigint(Method handle, Object signal, Object previous) {
        this.handle = handle;
        this.signal = signal;
        this.previous = previous;
    }

    /**
     * Routes SIGINT to {@code handler} (run on a signal thread) until {@link #close()} puts the previous handler
     * back; null, leaving the default (exit), when this JVM offers no such hook.
     */
    static Sigint handle(Runnable handler) {
        try {
            Class<?> signalClass = Class.forName("sun.misc.Signal");
            Class<?> handlerClass = Class.forName("sun.misc.SignalHandler");
            Object proxy = Proxy.newProxyInstance(
                    Sigint.class.getClassLoader(),
                    new Class<?>[] {handlerClass},
                    (p, method, args) -> switch (method.getName()) {
                        case "handle" -> {
                            handler.run();
                            yield null;
                        }
                        case "hashCode" -> System.identityHashCode(p);
                        case "equals" -> p == args[0];
                        default -> "Sigint";
                    });
            Object signal = signalClass.getConstructor(String.class).newInstance("INT");
            Method handle = signalClass.getMethod("handle", signalClass, handlerClass);
            Object previous = handle.invoke(null, signal, proxy);
            return new Sigint(handle, signal, previous);
        } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
            return null;
        }
    }

    @Override
    public void close() {
        try {
            handle.invoke(null, signal, previous);
        } catch (ReflectiveOperationException | RuntimeException e) {
            // the JVM is leaving anyway when this fails
        }
    }
}
