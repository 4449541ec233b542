// JPMML-Evaluator measured the plain way: a Java loop over evaluate(), one thread, CPU time
// from the JVM's thread clock. Used side by side with `cargo bench --bench pmml`; see
// BENCHMARKS.md for how to compile and run it against the jars the jpmml_evaluator wheel ships.

import java.io.BufferedReader;
import java.io.File;
import java.io.FileReader;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.jpmml.evaluator.Evaluator;
import org.jpmml.evaluator.InputField;
import org.jpmml.evaluator.LoadingModelEvaluatorBuilder;

public class JpmmlBench {

    public static void main(String[] args) throws Exception {
        String model = args[0];
        String csv = args[1];
        ThreadMXBean bean = ManagementFactory.getThreadMXBean();

        long loadStart = System.nanoTime();
        Evaluator evaluator = new LoadingModelEvaluatorBuilder().load(new File(model)).build();
        evaluator.verify();
        double loadMs = (System.nanoTime() - loadStart) / 1e6;

        List<Map<String, Object>> rows = new ArrayList<>();
        try (BufferedReader reader = new BufferedReader(new FileReader(csv))) {
            List<String> header = Arrays.asList(reader.readLine().split(","));
            String line;
            while ((line = reader.readLine()) != null) {
                String[] cells = line.split(",", -1);
                Map<String, Object> row = new LinkedHashMap<>();
                for (InputField field : evaluator.getInputFields()) {
                    String cell = cells[header.indexOf(field.getName())];
                    Object value = cell.isEmpty() ? null : cell;
                    try {
                        value = Double.valueOf(cell);
                    } catch (NumberFormatException nfe) {
                        // a string cell
                    }
                    row.put(field.getName(), value);
                }
                rows.add(row);
            }
        }

        // Warm the JIT up, then measure a full pass.
        for (int i = 0; i < Math.min(rows.size(), 20000); i++) {
            evaluator.evaluate(rows.get(i));
        }
        long cpuStart = bean.getCurrentThreadCpuTime();
        for (Map<String, Object> row : rows) {
            evaluator.evaluate(row);
        }
        double cpuSeconds = (bean.getCurrentThreadCpuTime() - cpuStart) / 1e9;

        long[] single = new long[5000];
        for (int i = 0; i < single.length; i++) {
            long t = System.nanoTime();
            evaluator.evaluate(rows.get(i));
            single[i] = System.nanoTime() - t;
        }
        Arrays.sort(single);
        System.out.printf("%s: %.0f rows/CPU-s; single-row median %.1f us; load %.1f ms%n",
                new File(model).getName(), rows.size() / cpuSeconds, single[single.length / 2] / 1e3, loadMs);
    }
}
